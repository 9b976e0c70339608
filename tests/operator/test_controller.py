"""The controller's handling of one key: routing of events, retries, requeues and re-login."""

from __future__ import annotations

from typing import Any

from modelops.operator.context import Context
from modelops.operator.controller import MODEL_DEPLOYMENT, MODEL_VERSION, Controller
from modelops.operator.kube import ApiError, ApiUnavailable, Connection, Kube
from modelops.operator.plans import Plan
from modelops.operator.workqueue import Backoff, Key

MDEP = Key(MODEL_DEPLOYMENT, "default", "churn")


class _Logins:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> Context:
        self.count += 1
        return Context(kube=Kube(Connection("http://127.0.0.1:9", {}, False)))


def _body(name: str, model: str = "churn", namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"model": model}}


async def test_a_version_event_enqueues_the_version_and_the_deployments_of_its_model() -> None:
    controller = Controller(_Logins())
    controller.deployment_event(None, _body("churn"))
    controller.deployment_event(None, _body("fraud", model="fraud"))
    controller.deployment_event(None, _body("churn", namespace="other"))
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    controller.version_event("ADDED", _body("churn-v2"))
    got = {await controller.queue.get() for _ in range(len(controller.queue))}
    assert got == {Key(MODEL_VERSION, "default", "churn-v2"), MDEP}


async def test_a_child_event_enqueues_its_owner() -> None:
    controller = Controller(_Logins())
    controller.child_event({"metadata": {"namespace": "default", "ownerReferences": [
        {"kind": "ModelDeployment", "name": "churn", "uid": "u"}]}})
    assert await controller.queue.get() == MDEP


async def test_failures_are_retried_with_backoff_and_a_401_logs_in_again() -> None:
    logins = _Logins()
    controller = Controller(logins, backoff=Backoff(base=5.0, maximum=60.0))
    errors: list[Exception] = [ApiUnavailable("503"), ApiError(401, "Unauthorized", "token expired")]

    async def failing(ctx: Context, namespace: str, name: str) -> Plan | None:
        raise errors.pop(0)

    controller.syncs[MODEL_DEPLOYMENT] = failing
    await controller.handle(MDEP)
    assert controller.queue.failures(MDEP) == 1
    await controller.handle(MDEP)
    assert controller.queue.failures(MDEP) == 2
    assert logins.count == 1

    async def settled(ctx: Context, namespace: str, name: str) -> Plan | None:
        return Plan(status={})

    controller.syncs[MODEL_DEPLOYMENT] = settled
    await controller.handle(MDEP)
    assert controller.queue.failures(MDEP) == 0
    assert logins.count == 2  # the 401 dropped the credentials: logged in again
    await controller.close()
    controller.queue.close()

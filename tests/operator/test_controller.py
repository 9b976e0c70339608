"""The controller's handling of one key: routing of events, retries, requeues and re-login."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

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


async def _run_until_handled(controller: Controller, wanted: Key) -> bool:
    """Run the controller's workers until ``wanted`` has been reconciled (or fail after 10 s);
    whether MDEP was scheduled again by then."""
    handled = asyncio.Event()
    seen: list[bool] = []

    async def healthy(ctx: Context, namespace: str, name: str) -> Plan | None:
        seen.append(controller.queue.scheduled(MDEP))
        handled.set()
        return None

    controller.syncs[MODEL_VERSION] = healthy
    runner = asyncio.create_task(controller.run())
    waiter = asyncio.create_task(handled.wait())
    done, _ = await asyncio.wait({runner, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    runner.cancel()
    waiter.cancel()
    await asyncio.gather(runner, waiter, return_exceptions=True)
    assert runner not in done, f"the controller stopped: {runner.exception()!r}"
    assert waiter in done, f"{wanted} was never handled"
    return seen[0]


async def test_a_key_failing_for_85_hours_does_not_end_the_worker() -> None:
    # One worker; the failing key has failed 1,100 times (300 s retries of an unreachable uri):
    # its next backoff used to raise OverflowError from inside handle's except block.
    controller = Controller(_Logins(), workers=1, backoff=Backoff(base=1.0, maximum=300.0))
    for _ in range(1100):
        controller.queue.retry(MDEP, 300.0)

    async def failing(ctx: Context, namespace: str, name: str) -> Plan | None:
        raise RuntimeError("artifact unreachable")

    controller.syncs[MODEL_DEPLOYMENT] = failing
    controller.queue.add(MDEP)
    healthy = Key(MODEL_VERSION, "default", "churn-v1")
    controller.queue.add(healthy)
    assert await _run_until_handled(controller, healthy)
    assert controller.queue.failures(MDEP) == 1101
    await controller.close()


class _BrokenBackoff(Backoff):
    def delay(self, failures: int) -> float:
        raise ZeroDivisionError("a bug in the error handling")


async def test_a_failure_inside_the_error_handling_does_not_end_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller = Controller(_Logins(), workers=1, backoff=_BrokenBackoff(base=1.0, maximum=60.0))

    async def failing(ctx: Context, namespace: str, name: str) -> Plan | None:
        raise RuntimeError("reconcile failed")

    controller.syncs[MODEL_DEPLOYMENT] = failing
    controller.queue.add(MDEP)
    healthy = Key(MODEL_VERSION, "default", "churn-v1")
    controller.queue.add(healthy)
    with caplog.at_level(logging.ERROR, logger="modelops.operator.controller"):
        scheduled = await _run_until_handled(controller, healthy)
    assert "a bug in the error handling" in caplog.text
    assert scheduled  # looked at again later (after the maximum delay)
    await controller.close()

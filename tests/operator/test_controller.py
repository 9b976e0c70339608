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


async def test_a_deployment_that_changes_model_or_goes_is_no_longer_woken_by_the_old_models_versions() -> None:
    controller = Controller(_Logins())
    controller.deployment_event(None, _body("churn"))
    controller.deployment_event("MODIFIED", {**_body("churn"), "spec": {"model": "fraud"}})
    controller.deployment_event(None, _body("other"))
    controller.deployment_event("DELETED", _body("other"))
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    controller.version_event("ADDED", _body("churn-v2"))
    controller.version_event("ADDED", _body("fraud-v1", model="fraud"))
    got = {await controller.queue.get() for _ in range(len(controller.queue))}
    assert got == {Key(MODEL_VERSION, "default", "churn-v2"), Key(MODEL_VERSION, "default", "fraud-v1"), MDEP}


def _version(name: str, observed: int | None = None, generation: int = 1) -> dict[str, Any]:
    status = {} if observed is None else {"observedGeneration": observed}
    return {"metadata": {"name": name, "namespace": "default", "generation": generation, "resourceVersion": "1"},
            "spec": {"model": "churn"}, "status": status}


async def test_a_deployment_applied_with_its_version_waits_for_the_versions_first_look() -> None:
    controller = Controller(_Logins())
    synced: list[str] = []

    async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
        synced.append(name)
        return Plan(status={})

    controller.syncs[MODEL_DEPLOYMENT] = sync
    controller.syncs[MODEL_VERSION] = sync
    version = Key(MODEL_VERSION, "default", "churn-v1")
    controller.version_event("ADDED", _version("churn-v1"))  # queued, never looked at
    controller.deployment_event("ADDED", _body("churn"))
    assert await controller.queue.get() == version
    assert await controller.queue.get() == MDEP
    await controller.handle(MDEP)  # put off: no reconcile, no "VersionNotReady" status written
    controller.queue.done(MDEP)
    assert synced == []
    assert not len(controller.queue)
    # The version's first status comes back as an event: the deployment is looked at then.
    controller.version_event("MODIFIED", {**_version("churn-v1", observed=1), "metadata": {
        **_version("churn-v1")["metadata"], "resourceVersion": "2"}})
    controller.queue.done(version)
    assert {await controller.queue.get() for _ in range(len(controller.queue))} == {version, MDEP}
    await controller.handle(MDEP)
    assert synced == ["churn"]
    await controller.close()


async def test_a_put_off_deployment_is_looked_at_anyway_when_no_event_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelops.operator.controller.PUT_OFF_FALLBACK_S", 0.01)
    controller = Controller(_Logins())
    synced: list[str] = []

    async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
        synced.append(name)
        return Plan(status={})  # wrote nothing: no event will come

    controller.syncs[MODEL_DEPLOYMENT] = sync
    controller.syncs[MODEL_VERSION] = sync
    version = Key(MODEL_VERSION, "default", "churn-v1")
    controller.version_event("ADDED", _version("churn-v1"))
    controller.deployment_event("ADDED", _body("churn"))
    for key in (await controller.queue.get(), await controller.queue.get()):
        assert key in (version, MDEP)
    await controller.handle(MDEP)
    controller.queue.done(MDEP)
    await controller.handle(version)
    controller.queue.done(version)
    assert await asyncio.wait_for(controller.queue.get(), 5) == MDEP
    await controller.close()


async def test_a_deployment_is_put_off_only_once_however_long_its_version_stays_busy() -> None:
    controller = Controller(_Logins())
    version = Key(MODEL_VERSION, "default", "churn-v1")
    controller.version_event("ADDED", _version("churn-v1"))  # queued, never looked at
    controller.deployment_event("ADDED", _body("churn"))
    assert controller._waits_for_first_look(MDEP)
    assert controller.queue.busy(version)  # still busy (its inspection re-queued it, say)
    assert not controller._waits_for_first_look(MDEP)  # looked at now, not starved
    assert controller._waits_for_first_look(MDEP)  # reconciled since: a new first look may wait again
    controller.queue.close()


async def test_a_deployment_does_not_wait_for_a_version_already_looked_at_or_only_scheduled() -> None:
    controller = Controller(_Logins())
    controller.version_event("ADDED", _version("churn-v1", observed=1))  # looked at: its status is news
    controller.deployment_event("ADDED", _body("churn"))
    assert not controller._waits_for_first_look(MDEP)
    controller.version_event("ADDED", _version("churn-v2"))  # never looked at, but not queued: retrying later
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    controller.queue.add_after(Key(MODEL_VERSION, "default", "churn-v2"), 60)
    assert not controller._waits_for_first_look(MDEP)
    controller.queue.close()


async def test_an_unverified_versions_event_does_not_wake_the_deployments_of_its_model() -> None:
    # They could only see it not Ready yet and write "VersionNotReady" for the milliseconds
    # until its verdict (20 of 3,000 deployments in benchmarks/operator): its verdict wakes them.
    controller = Controller(_Logins())
    version = Key(MODEL_VERSION, "default", "churn-v2")
    controller.deployment_event("ADDED", _body("churn"))
    controller.queue.done(await controller.queue.get())
    controller.version_event("ADDED", _version("churn-v2"))
    assert [await controller.queue.get() for _ in range(len(controller.queue))] == [version]
    controller.queue.done(version)
    controller.version_event("MODIFIED", {**_version("churn-v2", observed=1), "metadata": {
        **_version("churn-v2")["metadata"], "resourceVersion": "2"}})
    assert {await controller.queue.get() for _ in range(len(controller.queue))} == {version, MDEP}
    controller.queue.close()


async def test_a_deployment_waits_for_a_version_known_only_from_a_listing() -> None:
    # Applied together: the first deployment reconcile of a namespace lists its versions, some
    # before their watch events came (which will queue them): their first look is near.
    controller = Controller(_Logins())
    controller.deployment_event("ADDED", _body("churn"))
    controller.versions.update(None, _version("churn-v1"))  # from that listing only
    assert not controller.queue.busy(Key(MODEL_VERSION, "default", "churn-v1"))
    assert controller._waits_for_first_look(MDEP)
    controller.queue.close()


async def test_an_inspection_ending_wakes_its_version_only_when_no_worker_waits_for_it() -> None:
    controller = Controller(_Logins())
    controller._loop = asyncio.get_running_loop()
    version = Key(MODEL_VERSION, "default", "churn-v1")
    controller.queue.add(version)
    assert await controller.queue.get() == version  # a worker handles it and waits for the inspection
    controller._wake_version("default", "churn-v1")
    await asyncio.sleep(0.01)
    controller.queue.done(version)
    assert not len(controller.queue)  # the waiting worker took the outcome: no second reconcile
    controller._wake_version("default", "churn-v1")  # ended after the worker stopped waiting
    await asyncio.sleep(0.01)
    assert await controller.queue.get() == version
    controller.queue.close()


async def test_our_own_write_coming_back_as_an_event_is_not_reconciled_again() -> None:
    # Each status write and child create echoed back as a watch event, and each cost one more
    # reconcile (a GET and two lists) that could only find what the writer had just decided.
    from modelops.operator.kube import DEPLOYMENTS, MODEL_DEPLOYMENTS

    controller = Controller(_Logins())
    kube = (await controller.context()).kube
    churn = {**_body("churn"), "kind": "ModelDeployment"}
    churn["metadata"] = {**churn["metadata"], "resourceVersion": "7"}
    kube._wrote(MODEL_DEPLOYMENTS, churn)  # as a status patch's answer
    controller.deployment_event("MODIFIED", churn)
    assert not len(controller.queue)
    controller.deployment_event("MODIFIED", churn)  # the same again (a relist): looked at
    assert await controller.queue.get() == MDEP
    controller.queue.done(MDEP)
    child_meta: dict[str, Any] = {"name": "churn-churn-v1", "namespace": "default", "resourceVersion": "9",
                                  "ownerReferences": [{"kind": "ModelDeployment", "name": "churn", "uid": "u"}]}
    child: dict[str, Any] = {"kind": "Deployment", "metadata": child_meta}
    kube._wrote(DEPLOYMENTS, child)
    controller.child_event(child, "ADDED")
    assert not len(controller.queue)
    controller.child_event({**child, "metadata": {**child_meta, "resourceVersion": "10"}}, "MODIFIED")
    assert await controller.queue.get() == MDEP  # someone else's change (the pods became available)
    controller.queue.done(MDEP)
    kube._wrote(MODEL_DEPLOYMENTS, {**churn, "metadata": {**churn["metadata"], "resourceVersion": "11"}})
    controller.deployment_event(None, {**churn, "metadata": {**churn["metadata"], "resourceVersion": "11"}})
    assert await controller.queue.get() == MDEP  # a listing (no event type) is always looked at
    await controller.close()


async def test_a_version_we_created_is_reconciled_on_its_added_event() -> None:
    # A retraining Job's result becomes a ModelVersion the operator creates itself: its ADDED
    # event is the version's first look (verification, validation), not an echo to skip.
    from modelops.operator.kube import MODEL_VERSIONS

    controller = Controller(_Logins())
    kube = (await controller.context()).kube
    version = {**_version("churn-drift-retrain-1"), "kind": "ModelVersion"}
    version["metadata"] = {**version["metadata"], "resourceVersion": "5"}
    kube._wrote(MODEL_VERSIONS, version)  # as the create's answer
    controller.version_event("ADDED", version)
    assert len(controller.queue) == 1
    assert await controller.queue.get() == Key(MODEL_VERSION, "default", "churn-drift-retrain-1")
    await controller.close()


async def test_a_versions_own_status_write_still_wakes_the_deployments_of_its_model() -> None:
    from modelops.operator.kube import MODEL_VERSIONS

    controller = Controller(_Logins())
    kube = (await controller.context()).kube
    controller.deployment_event("ADDED", _body("churn"))
    controller.queue.done(await controller.queue.get())
    version = _version("churn-v1", observed=1)
    kube._wrote(MODEL_VERSIONS, version)
    controller.version_event("MODIFIED", version)
    assert [await controller.queue.get() for _ in range(len(controller.queue))] == [MDEP]  # not the version
    await controller.close()


async def test_a_stop_lets_the_reconcile_in_flight_finish_and_takes_no_new_key() -> None:
    # A replica stopped (rolling upgrade, node drain) between a promotion's status write and
    # the old version's deletion would leave the deletion undone and its Events lost for good.
    controller = Controller(_Logins(), workers=2)
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(ctx: Context, namespace: str, name: str) -> Plan | None:
        started.set()
        await release.wait()
        finished.append(name)
        return None

    controller.syncs[MODEL_DEPLOYMENT] = slow
    controller.queue.add(MDEP)
    runner = asyncio.create_task(controller.run())
    await asyncio.wait_for(started.wait(), 10)
    drain = asyncio.create_task(controller.drain(grace_s=30.0))
    await asyncio.sleep(0.05)
    assert not drain.done()  # waits for the reconcile in flight
    controller.queue.add(Key(MODEL_DEPLOYMENT, "default", "fraud"))  # arrives while stopping
    release.set()
    await asyncio.wait_for(drain, 10)
    await asyncio.wait_for(runner, 10)  # every worker has ended: run returns by itself
    assert finished == ["churn"]  # finished, and no new key was taken
    await controller.close()


async def test_a_reconcile_outlasting_the_shutdown_grace_is_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    controller = Controller(_Logins(), workers=1)
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def stuck(ctx: Context, namespace: str, name: str) -> Plan | None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return None

    controller.syncs[MODEL_DEPLOYMENT] = stuck
    controller.queue.add(MDEP)
    runner = asyncio.create_task(controller.run())
    await asyncio.wait_for(started.wait(), 10)
    with caplog.at_level(logging.WARNING, logger="modelops.operator.controller"):
        await asyncio.wait_for(controller.drain(grace_s=0.1), 10)
    await asyncio.wait_for(runner, 10)
    assert cancelled == [True]
    assert "cut short after the 0s shutdown grace" in caplog.text
    await controller.close()

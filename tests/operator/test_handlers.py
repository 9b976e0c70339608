"""kopf's event handlers only enqueue keys, on the event loop (the WorkQueue is not thread-safe)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import kopf
from kopf._core.actions.invocation import invoke

from modelops.operator.controller import MODEL_DEPLOYMENT, MODEL_VERSION
from modelops.operator.options import Options
from modelops.operator.runner import build
from modelops.operator.workqueue import Key


def _bodies(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        meta = {"name": f"churn-v{i % 5}", "namespace": "default", "uid": "u"}
        out.append({"kind": "ModelVersion", "metadata": meta, "spec": {"model": "churn"}})
        child = {"name": f"churn-v{i % 5}", "namespace": "default",
                 "ownerReferences": [{"kind": "ModelDeployment", "name": "churn", "uid": "u"}]}
        out.append({"kind": "Deployment", "metadata": child})
        out.append({"kind": "ModelDeployment", "metadata": {"name": "churn", "namespace": "default"},
                    "spec": {"model": "churn"}})
    return out


async def test_handlers_run_on_the_event_loop_and_queue_each_key_once() -> None:
    # kopf invokes a plain `def` handler in its thread pool; there, WorkQueue.add raced with
    # itself (a key queued twice). Invoked the way kopf invokes them, ours must all run on the
    # loop's thread, and many concurrent events leave one entry per key.
    registry, settings, controller = build(Options())
    handlers = {h.id.split(".")[-1]: h.fn for h in registry._watching.get_all_handlers()}
    assert sorted(handlers) == ["drift_policy_changed", "model_deployment_changed", "model_version_changed",
                                "retrain_job_changed", "serving_deployment_changed", "serving_route_changed",
                                "serving_service_changed", "validation_job_changed"]
    threads: set[int] = set()
    add = controller.queue.add

    def recording_add(key: Key) -> None:
        threads.add(threading.get_ident())
        add(key)

    controller.queue.add = recording_add  # type: ignore[method-assign]
    by_kind = {"ModelVersion": "model_version_changed", "ModelDeployment": "model_deployment_changed",
               "Deployment": "serving_deployment_changed"}
    calls = [
        invoke(handlers[by_kind[body["kind"]]], settings=settings,
               kwargs={"type": "MODIFIED", "body": kopf.Body(cast(kopf.RawBody, body))})
        for body in _bodies(200)
    ]
    await asyncio.gather(*calls)
    assert threads == {threading.get_ident()}
    keys = [await controller.queue.get() for _ in range(len(controller.queue))]
    assert sorted(keys) == sorted(
        [Key(MODEL_DEPLOYMENT, "default", "churn"), *(Key(MODEL_VERSION, "default", f"churn-v{i}") for i in range(5))]
    )
    assert controller.queue._ready.empty()  # nothing queued twice behind them

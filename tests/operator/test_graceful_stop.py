"""A replica stopped (SIGTERM: a rolling upgrade, a node drain) in the middle of a reconcile lets
it finish: here, stopped between a promotion's status write and the deletion of the version it
replaced. Cut there, the old version's Deployment stayed and the Promoted Event was lost for good
(the next leader starts from the new status and sees no transition); CI once failed on it."""

from __future__ import annotations

import time

import pytest

from modelops.emulator.testing import EmulatorHandle
from tests.operator.harness import (
    MV_API,
    Artifact,
    apply_v1,
    bring_up_v1,
    event_messages,
    model_version,
    play_when_created,
    running_operator,
    status_of,
    wait_deployment,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_a_stop_between_a_promotions_status_write_and_its_deletion_lets_the_reconcile_finish(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    apply_v1(k8s, v1)
    with running_operator(k8s) as stop:
        bring_up_v1(k8s)
        k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        wait_deployment(k8s, "rolling out churn-v2", lambda o: status_of(o).get("candidate") == "churn-v2")
        # posted right after that status write: the next Event posted is then the promotion's
        wait_for(lambda: event_messages(k8s, "RolloutStarted"), "the RolloutStarted Event")

        def stop_now_and_answer_late() -> None:
            # The promotion's status is written; its Event is being posted: SIGTERM arrives now,
            # and the answer comes late enough that the stop is under way before the deletion.
            stop.set()
            time.sleep(1.5)

        k8s.emulator.faults.before("POST", r"/namespaces/default/events$", stop_now_and_answer_late)
        play_when_created(k8s, "churn-churn-v2", 2)
        wait_deployment(k8s, "churn-v2 promoted", lambda o: status_of(o).get("stable") == "churn-v2")
    # The operator has stopped (the block waited for it), having finished that reconcile.
    assert [d["metadata"]["name"] for d in k8s.list("apps/v1", "Deployment", "default")] == ["churn-churn-v2"]
    assert any(m.startswith("churn-v2 promoted") for m in event_messages(k8s, "Promoted"))

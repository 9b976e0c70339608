"""Restarts: a fresh operator continues from status alone, and a settled cluster gets no writes."""

from __future__ import annotations

import time

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import (
    MV_API,
    NOW,
    apply_v1,
    bring_up_v1,
    create_versions,
    has_condition,
    model_deployment,
    play_deployment_controller,
    running_operator,
    seed_mid_rollout,
    wait_deployment,
    wait_for,
)

pytestmark = pytest.mark.integration


def _writes(k8s: EmulatorHandle, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in k8s.requests[since:]
            if r.method in ("POST", "PUT", "PATCH", "DELETE") and "/events" not in r.path]


def test_a_fresh_operator_resumes_a_rollout_seeded_mid_way(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    seed_mid_rollout(k8s, artifacts, deployed=("churn-v1", "churn-v2"))

    with running_operator(k8s):
        resumed = wait_deployment(k8s, "the rollout observed", lambda o: has_condition(o, "Progressing", "True"))
        assert (resumed["status"]["stable"], resumed["status"]["candidate"]) == ("churn-v1", "churn-v2")
        assert resumed["status"]["stepStartedAt"] == NOW  # the rollout's clock did not restart
        assert k8s.find("apps/v1", "Deployment", "churn-churn-v1") is not None  # stable kept until promotion
        assert len(k8s.list("apps/v1", "Deployment", "default")) == 2

        play_deployment_controller(k8s, "churn-churn-v2", 2)
        done = wait_deployment(k8s, "churn-v2 promoted", lambda o: o["status"].get("stable") == "churn-v2")
        assert [h["version"] for h in done["status"]["history"]] == ["churn-v1", "churn-v2"]
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1") is None, "churn-v1 retired")


def test_an_operator_restarted_during_a_rollout_finishes_it(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    create_versions(k8s, artifacts)
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        bring_up_v1(k8s)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        wait_deployment(k8s, "rolling out churn-v2", lambda o: o["status"].get("candidate") == "churn-v2")
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "churn-v2 Deployment")
    # While no operator runs, the new pods come up.
    play_deployment_controller(k8s, "churn-churn-v2", 2)
    with running_operator(k8s):
        done = wait_deployment(k8s, "churn-v2 stable", lambda o: o["status"].get("stable") == "churn-v2")
        assert has_condition(done, "Ready", "True", "Available")
        wait_for(lambda: [d["metadata"]["name"] for d in k8s.list("apps/v1", "Deployment", "default")]
                 == ["churn-churn-v2"], "churn-v1 retired")


def test_a_settled_cluster_gets_no_writes_from_a_restarted_operator(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    apply_v1(k8s, artifacts[0])
    with running_operator(k8s):
        bring_up_v1(k8s, "Ready")
    before = len(k8s.requests)
    with running_operator(k8s):
        # Every object is listed and reconciled on start; give the workers time to act if they would.
        wait_for(lambda: len([r for r in k8s.requests[before:] if "labelSelector" in r.query]) >= 2,
                 "the deployment reconciled (its children listed)")
        time.sleep(1.0)
        assert _writes(k8s, before) == []

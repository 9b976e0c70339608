"""Restarts: a fresh operator continues from status alone, and a settled cluster gets no writes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.emulator.testing import EmulatorHandle
from modelops.operator.modeldeployment import children
from modelops.operator.modeldeployment.children import Owner, ServedVersion

from .conftest import Artifact
from .harness import (
    IMAGE,
    MV_API,
    has_condition,
    model_deployment,
    model_version,
    play_deployment_controller,
    running_operator,
    wait_deployment,
    wait_for,
)

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready_version(name: str, artifact: Artifact) -> dict[str, Any]:
    mv = model_version(name, artifact.uri, artifact.sha256)
    ready = {"type": "Ready", "status": "True", "reason": "Verified", "message": "seeded",
             "observedGeneration": 1, "lastTransitionTime": NOW}
    verified = dict(ready, type="ArtifactVerified")
    mv["status"] = {"observedGeneration": 1, "conditions": [verified, ready]}
    return mv


def _writes(k8s: EmulatorHandle, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in k8s.requests[since:]
            if r.method in ("POST", "PUT", "PATCH", "DELETE") and "/events" not in r.path]


def test_a_fresh_operator_resumes_a_rollout_seeded_mid_way(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    k8s.seed(_ready_version("churn-v1", v1))
    k8s.seed(_ready_version("churn-v2", v2))
    mdep = model_deployment("churn-v2")
    mdep["status"] = {
        "observedGeneration": 1, "phase": "Progressing", "stable": "churn-v1", "candidate": "churn-v2",
        "weight": 0, "step": 0, "stepStartedAt": NOW,
        "history": [{"version": "churn-v1", "result": "Promoted", "at": NOW, "reason": "seeded"}],
    }
    seeded = k8s.seed(mdep)
    owner = Owner("churn", "default", seeded["metadata"]["uid"])
    spec = ModelDeploymentSpec.model_validate(mdep["spec"])
    for name, artifact in (("churn-v1", v1), ("churn-v2", v2)):
        k8s.create(children.deployment(owner, spec, ServedVersion(name, artifact.uri, artifact.sha256), IMAGE))
        k8s.create(children.version_service(owner, "churn", name))
    k8s.create(children.main_service(owner, "churn", "churn-v1"))
    play_deployment_controller(k8s, "churn-churn-v1", 2)

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
    v1, v2 = artifacts
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "churn-v1 Deployment")
        play_deployment_controller(k8s, "churn-churn-v1", 2)
        wait_deployment(k8s, "churn-v1 stable", lambda o: has_condition(o, "Ready", "True"))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        wait_deployment(k8s, "rolling out churn-v2", lambda o: o["status"].get("candidate") == "churn-v2")
    # While no operator runs, the new pods come up.
    wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "churn-v2 Deployment")
    play_deployment_controller(k8s, "churn-churn-v2", 2)
    with running_operator(k8s):
        done = wait_deployment(k8s, "churn-v2 stable", lambda o: o["status"].get("stable") == "churn-v2")
        assert has_condition(done, "Ready", "True", "Available")
    assert sorted(d["metadata"]["name"] for d in k8s.list("apps/v1", "Deployment", "default")) == ["churn-churn-v2"]


def test_a_settled_cluster_gets_no_writes_from_a_restarted_operator(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment")
        play_deployment_controller(k8s, "churn-churn-v1", 2)
        wait_deployment(k8s, "Ready", lambda o: has_condition(o, "Ready", "True"))
    before = len(k8s.requests)
    with running_operator(k8s):
        # Every object is listed and reconciled on start; give the workers time to act if they would.
        wait_for(lambda: len([r for r in k8s.requests[before:] if "labelSelector" in r.query]) >= 2,
                 "the deployment reconciled (its children listed)")
        time.sleep(1.0)
        assert _writes(k8s, before) == []

"""The real operator (kopf over HTTP) against the emulator: the test plays the Deployment controller."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import (
    IMAGE,
    MV_API,
    apply_v1,
    bring_up_v1,
    condition,
    has_condition,
    model_deployment,
    model_version,
    play_deployment_controller,
    running_operator,
    wait_deployment,
    wait_for,
    wait_object,
)

pytestmark = pytest.mark.integration


def _mdep(k8s: EmulatorHandle) -> dict[str, Any] | None:
    return k8s.find(MV_API, "ModelDeployment", "churn")


def _children(k8s: EmulatorHandle) -> list[str]:
    names = [f"Deployment/{d['metadata']['name']}" for d in k8s.list("apps/v1", "Deployment", "default")]
    names += [f"Service/{s['metadata']['name']}" for s in k8s.list("v1", "Service", "default")]
    return sorted(names)


def _serve_stable(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    apply_v1(k8s, artifacts[0])
    bring_up_v1(k8s, "churn-v1 stable and Ready")


def test_version_is_verified_and_deployment_becomes_ready_once_pods_are_available(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    apply_v1(k8s, v1)
    with running_operator(k8s):
        mv = wait_object(k8s, MV_API, "ModelVersion", "churn-v1", lambda o: has_condition(o, "Ready", "True"),
                         what="ModelVersion Ready")
        assert has_condition(mv, "ArtifactVerified", "True", "Verified")
        assert mv["status"]["artifact"]["sha256"] == v1.sha256
        assert mv["status"]["artifact"]["features"] == ["a", "b", "c"]

        dep = wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment churn-churn-v1")
        mdep = _mdep(k8s)
        assert mdep is not None
        assert dep["metadata"]["ownerReferences"][0]["uid"] == mdep["metadata"]["uid"]
        pod = dep["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == IMAGE
        assert pod["initContainers"][0]["args"][:5] == ["fetch", "--uri", v1.uri, "--sha256", v1.sha256]
        assert dep["spec"]["replicas"] == 2
        service = wait_for(lambda: k8s.find("v1", "Service", "churn"), "Service churn")
        assert service["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
        # Children are written before status: wait for the status of this reconcile.
        wait_deployment(k8s, "WaitingForPods", lambda o: has_condition(o, "Ready", "False", "WaitingForPods"))

        play_deployment_controller(k8s, "churn-churn-v1", 1)
        wait_deployment(k8s, "1/2 available reported", lambda o: o["status"].get("availableReplicas") == 1)
        assert has_condition(_mdep(k8s), "Ready", "False", "WaitingForPods")

        play_deployment_controller(k8s, "churn-churn-v1", 2)
        ready = wait_deployment(k8s, "Ready=True", lambda o: has_condition(o, "Ready", "True", "Available"))
        status = ready["status"]
        assert (status["stable"], status["weight"], status["phase"]) == ("churn-v1", 100, "Stable")
        assert status["observedGeneration"] == ready["metadata"]["generation"]
        assert status["endpoint"] == "http://churn.default.svc:8080/v2/models/churn"
        assert condition(ready, "Ready") is not None
        events = wait_for(lambda: [e for e in k8s.list("v1", "Event", "default")
                                   if e["reason"] == "Promoted"], "a Promoted Event")
        assert events[0]["involvedObject"]["name"] == "churn"
        assert "2/2 replicas available" in events[0]["message"]
    assert _children(k8s) == ["Deployment/churn-churn-v1", "Service/churn"]


def test_changing_the_version_rolls_it_out_and_retires_the_old_one(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v2 = artifacts[1]
    with running_operator(k8s):
        _serve_stable(k8s, artifacts)
        k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "Deployment churn-churn-v2")
        rolling = wait_deployment(k8s, "candidate churn-v2", lambda o: o["status"].get("candidate") == "churn-v2")
        assert rolling["status"]["stable"] == "churn-v1"
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
        assert k8s.find("apps/v1", "Deployment", "churn-churn-v1") is not None  # still serving
        # while it rolls out, each version has its own address (children first, then status)
        assert {"churn-churn-v1", "churn-churn-v2"} <= {s["metadata"]["name"] for s in k8s.list("v1", "Service")}

        play_deployment_controller(k8s, "churn-churn-v2", 2)
        done = wait_deployment(k8s, "churn-v2 stable", lambda o: o["status"].get("stable") == "churn-v2")
        assert has_condition(done, "Ready", "True")
        assert "candidate" not in done["status"]
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
        expected = ["Deployment/churn-churn-v2", "Service/churn"]  # the rollout's D-V Services go too
        wait_for(lambda: _children(k8s) == expected, "churn-v1's Deployment and Service deleted")
        assert [h["version"] for h in done["status"]["history"]] == ["churn-v1", "churn-v2"]
    assert _children(k8s) == expected


def test_a_version_that_is_missing_or_not_ready_leaves_the_old_one_serving(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    with running_operator(k8s):
        _serve_stable(k8s, artifacts)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        missing = wait_deployment(
            k8s, "VersionNotFound", lambda o: has_condition(o, "Ready", "False", "VersionNotFound")
        )
        assert missing["status"]["stable"] == "churn-v1"

        # A version whose digest does not match its artifact is never Ready.
        k8s.create(model_version("churn-v2", v2.uri, v1.sha256))
        bad = wait_deployment(k8s, "VersionNotReady because of the digest", lambda o: has_condition(
            o, "Ready", "False", "VersionNotReady") and "DigestMismatch" in (condition(o, "Ready") or {})["message"])
        assert k8s.find("apps/v1", "Deployment", "churn-churn-v2") is None
        assert _children(k8s) == ["Deployment/churn-churn-v1", "Service/churn"]
        assert has_condition(bad, "Degraded", "False")

        # A correct version of another name, then pointing at it: the rollout proceeds.
        k8s.create(model_version("churn-v3", v2.uri, v2.sha256))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v3"}})
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v3"), "Deployment churn-churn-v3")


def test_a_version_created_after_the_deployment_is_picked_up_without_a_spec_change(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    with running_operator(k8s):
        k8s.create(model_deployment("churn-v1"))
        wait_deployment(k8s, "VersionNotFound", lambda o: has_condition(o, "Ready", "False", "VersionNotFound"))
        assert _children(k8s) == []
        k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment after the version")


def test_a_spec_the_operator_cannot_serve_is_invalid_and_changes_nothing(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_deployment(None))  # promotion Manual (the default) names no version
    with running_operator(k8s):
        invalid = wait_deployment(k8s, "InvalidSpec", lambda o: has_condition(o, "Ready", "False", "InvalidSpec"))
        assert "spec.version: required when spec.promotion is Manual" in (condition(invalid, "Ready") or {})["message"]
        assert invalid["status"]["observedGeneration"] == 1
        assert _children(k8s) == []


def test_untrusted_and_unreachable_artifacts_say_why_and_retry_acts_once(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(model_version("pickle", v1.uri, v1.sha256, format="joblib"))
    k8s.create(model_version("far", "http://127.0.0.1:9/nowhere/", v1.sha256))
    with running_operator(k8s):
        wait_for(lambda: has_condition(k8s.find(MV_API, "ModelVersion", "pickle"), "Ready", "False",
                                       "UntrustedFormat"), "UntrustedFormat")
        far = wait_object(k8s, MV_API, "ModelVersion", "far",
                          lambda o: has_condition(o, "Ready", "False", "ArtifactNotFound"), what="ArtifactNotFound")
        assert (condition(far, "Ready") or {})["message"].endswith("retrying with backoff")

        k8s.patch(MV_API, "ModelVersion", "pickle", {"metadata": {"annotations": {"modelops.dev/action": "retry"}}})
        wait_for(lambda: "modelops.dev/action" not in (
            k8s.get(MV_API, "ModelVersion", "pickle")["metadata"].get("annotations") or {}), "retry removed")
        assert has_condition(k8s.find(MV_API, "ModelVersion", "pickle"), "Ready", "False", "UntrustedFormat")


def test_scaling_updates_the_deployment_in_place_and_waits_for_the_new_pods(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        _serve_stable(k8s, artifacts)
        uid = k8s.get("apps/v1", "Deployment", "churn-churn-v1")["metadata"]["uid"]
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"replicas": 3}})
        scaled = wait_for(lambda: (d := k8s.find("apps/v1", "Deployment", "churn-churn-v1")) is not None
                          and d["spec"]["replicas"] == 3 and d, "Deployment scaled to 3")
        assert scaled["metadata"]["uid"] == uid  # patched, not recreated
        waiting = wait_deployment(k8s, "waiting for the third pod", lambda o: has_condition(o, "Ready", "False"))
        assert "2/3" in (condition(waiting, "Ready") or {})["message"]
        play_deployment_controller(k8s, "churn-churn-v1", 3)
        wait_deployment(k8s, "Ready at 3/3", lambda o: has_condition(o, "Ready", "True")
                   and o["status"]["availableReplicas"] == 3)


def test_a_candidate_not_available_by_the_deadline_is_rolled_back_until_a_retry(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v2 = artifacts[1]
    with running_operator(k8s):
        _serve_stable(k8s, artifacts)
        k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {
            "version": "churn-v2", "strategy": {"type": "Recreate", "progressDeadline": "1s"}}})
        # Nobody plays the controller for churn-v2: its pods never become available.
        rolled_back = wait_deployment(k8s, "RolledBack", lambda o: o["status"].get("phase") == "RolledBack")
        assert rolled_back["status"]["stable"] == "churn-v1"
        assert has_condition(rolled_back, "Ready", "False", "RolledBack")
        assert rolled_back["status"]["history"][-1]["result"] == "RolledBack"
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2") is None, "candidate deleted")
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"

        k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {"modelops.dev/action": "retry"}}})
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "candidate re-created by the retry")
        wait_for(lambda: "modelops.dev/action" not in (
            k8s.get(MV_API, "ModelDeployment", "churn")["metadata"].get("annotations") or {}), "retry removed")

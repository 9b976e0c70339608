"""Issue 12 items 6 and 7 against the emulator: the stable pods keep their verified artifact when
their ModelVersion goes or is replaced, and a refused child write still leaves a status."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import (
    MV_API,
    apply_v1,
    bring_up_v1,
    condition,
    has_condition,
    model_deployment,
    model_version,
    running_operator,
    wait_deployment,
    wait_for,
    wait_object,
)

pytestmark = pytest.mark.integration


def _serving(k8s: EmulatorHandle) -> dict[str, Any]:
    return k8s.get("apps/v1", "Deployment", "churn-churn-v1")


def _fetch(dep: dict[str, Any]) -> list[str]:
    return list(dep["spec"]["template"]["spec"]["initContainers"][0]["args"])


def test_the_stable_pods_keep_their_artifact_until_a_ready_version_replaces_it(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    with running_operator(k8s):
        apply_v1(k8s, v1)
        stable = bring_up_v1(k8s)
        uid = k8s.get(MV_API, "ModelVersion", "churn-v1")["metadata"]["uid"]
        assert stable["status"]["pinned"] == [{  # kept by the CRD's status schema, not pruned
            "version": "churn-v1", "uid": uid, "uri": v1.uri, "sha256": v1.sha256, "format": "skops",
            "trusted": False, "allowVersionSkew": False}]
        before = _serving(k8s)

        k8s.delete(MV_API, "ModelVersion", "churn-v1")
        missing = wait_deployment(k8s, "VersionMissing", lambda o: has_condition(o, "Ready", "False", "VersionMissing"))
        assert v1.sha256 in (condition(missing, "Ready") or {})["message"]
        assert _serving(k8s) == before

        # Re-created under the same name, pointing at another artifact whose digest does not match.
        k8s.create(model_version("churn-v1", v2.uri, v1.sha256))
        replaced = wait_deployment(k8s, "VersionReplaced",
                                   lambda o: has_condition(o, "Ready", "False", "VersionReplaced")
                                   and "DigestMismatch" in (condition(o, "Ready") or {})["message"])
        assert replaced["status"]["pinned"][0]["uid"] == uid
        assert _serving(k8s) == before
        assert _fetch(_serving(k8s))[:5] == ["fetch", "--uri", v1.uri, "--sha256", v1.sha256]

        # Once a re-created version is verified, and only then, the pods move to it.
        k8s.delete(MV_API, "ModelVersion", "churn-v1")
        k8s.create(model_version("churn-v1", v2.uri, v2.sha256))
        def on_v2() -> dict[str, Any] | None:
            dep = _serving(k8s)
            return dep if v2.sha256 in _fetch(dep) else None

        moved = wait_for(on_v2, "pods on the new artifact")
        assert _fetch(moved)[:5] == ["fetch", "--uri", v2.uri, "--sha256", v2.sha256]
        assert k8s.get(MV_API, "ModelVersion", "churn-v1")["status"]["conditions"]  # verified before use
        assert has_condition(k8s.get(MV_API, "ModelVersion", "churn-v1"), "Ready", "True")
        wait_for(lambda: any(e["reason"] == "VersionReplaced" for e in k8s.list("v1", "Event", "default")),
                 "a VersionReplaced Event")


def test_a_child_the_api_server_refuses_still_leaves_a_status_saying_why(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    refused = k8s.fail_next("POST", r"/services$", status=422, times=10_000,
                            message='Service "churn-churn-v1" is invalid: metadata.name: Invalid value')
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        failed = wait_deployment(k8s, "ChildWriteFailed", lambda o: has_condition(o, "Ready", "False",
                                                                                  "ChildWriteFailed"))
        message = (condition(failed, "Ready") or {})["message"]
        assert "HTTP 422" in message
        assert "churn-churn-v1" in message
        assert failed["status"]["observedGeneration"] == 1
        assert "candidate" not in failed["status"]  # nothing claimed that was not made
        k8s.emulator.faults.clear()
        assert refused.remaining < 10_000
        wait_deployment(k8s, "rolling out once Services are admitted",
                        lambda o: has_condition(o, "Ready", "False", "WaitingForPods"))
        wait_object(k8s, "v1", "Service", "churn", lambda o: True, what="Service churn")

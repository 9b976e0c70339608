"""Faults: with conflicts, server errors and dropped watch streams, the same end state,
no duplicate children, and no child without its owner."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import (
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
EXPECTED_V1 = ["Deployment/churn-churn-v1", "Service/churn"]  # at rest D is the only Service
EXPECTED_V2 = ["Deployment/churn-churn-v2", "Service/churn"]


def _children(k8s: EmulatorHandle) -> list[dict[str, Any]]:
    return [*k8s.list("apps/v1", "Deployment", "default"), *k8s.list("v1", "Service", "default")]


def _assert_owned_and_unique(k8s: EmulatorHandle, expected: list[str]) -> None:
    uid = k8s.get(MV_API, "ModelDeployment", "churn")["metadata"]["uid"]

    def names() -> list[str]:
        return sorted(f"{c['kind']}/{c['metadata']['name']}" for c in _children(k8s))

    # Deletions of the old version's children may still be under way: wait for them, then check.
    wait_for(lambda: names() == expected, f"exactly {expected}")
    found = _children(k8s)
    for child in found:
        refs = child["metadata"].get("ownerReferences") or []
        assert [(r["kind"], r["uid"]) for r in refs] == [("ModelDeployment", uid)], child["metadata"]["name"]


def test_conflicts_and_server_errors_on_every_write_still_converge(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    faults = [
        k8s.fail_next("POST", r"/deployments$", status=409, times=2),  # "already exists", yet it does not
        k8s.fail_next("POST", r"/services$", status=500, times=3),
        k8s.fail_next("PATCH", r"/modeldeployments/churn/status$", status=409, times=2),
        k8s.fail_next("PATCH", r"/modelversions/churn-v1/status$", status=500, times=2, retry_after=0),
        k8s.fail_next("GET", r"/modelversions$", status=503, times=2),
    ]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment despite faults", 45)
        faults.append(k8s.fail_next("PATCH", r"/modeldeployments/churn/status$", status=500, times=3))
        play_deployment_controller(k8s, "churn-churn-v1", 2)
        ready = "Ready despite faults"
        wait_deployment(k8s, ready, lambda o: has_condition(o, "Ready", "True", "Available"), timeout=45)
        _assert_owned_and_unique(k8s, EXPECTED_V1)
    assert [fault.remaining for fault in faults] == [0] * len(faults)  # every fault was met on the way


def test_dropped_watch_streams_do_not_lose_a_rollout(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "churn-v1 Deployment")
        k8s.drop_watches()
        play_deployment_controller(k8s, "churn-churn-v1", 2)
        wait_deployment(k8s, "churn-v1 Ready", lambda o: has_condition(o, "Ready", "True"), timeout=45)

        k8s.drop_watches(abort=True)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "churn-v2 Deployment", 45)
        k8s.drop_watches()
        play_deployment_controller(k8s, "churn-churn-v2", 2)
        k8s.drop_watches(abort=True)
        done = wait_deployment(k8s, "churn-v2 stable", lambda o: o["status"].get("stable") == "churn-v2", timeout=45)
        assert has_condition(done, "Ready", "True")
        _assert_owned_and_unique(k8s, EXPECTED_V2)

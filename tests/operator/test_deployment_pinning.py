"""Issue 12 item 7: the pods serve what was pinned from a Ready ModelVersion, never an unverified spec."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan
from modelops.operator.plans import Plan

from .objects import SHA_A, SHA_B, UID, condition, deployment, model_deployment, model_version, service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PIN_V1 = {"version": "churn-v1", "uid": "uid-churn-v1", "uri": "file:///artifacts/churn-v1", "sha256": SHA_A,
          "format": "skops", "trusted": False, "allowVersionSkew": False}


def _plan(obj: dict[str, Any], versions: Sequence[dict[str, Any]]) -> Plan:
    observed = Observed.from_objects(
        UID, versions, [deployment("churn-churn-v1", "churn-v1", available=2)],
        [service("churn", "churn-v1")],  # at rest the stable version has no Service of its own
    )
    return plan(obj, observed, image="img:1", now=NOW)


def _stable(**extra: Any) -> dict[str, Any]:
    return {"observedGeneration": 1, "phase": "Stable", "stable": "churn-v1", "weight": 100,
            "pinned": [PIN_V1], "conditions": [condition("Ready", "True", "Available")], **extra}


def _fetch_args(p: Plan, name: str = "churn-churn-v1") -> list[str]:
    dep = next(c for c in p.apply if c["kind"] == "Deployment" and c["metadata"]["name"] == name)
    return list(dep["spec"]["template"]["spec"]["initContainers"][0]["args"])


def _ready(p: Plan) -> tuple[str, str, str]:
    c = next(c for c in p.status["conditions"] if c["type"] == "Ready")
    return c["status"], c["reason"], c["message"]


def _recreated(ready: bool | None) -> dict[str, Any]:
    """churn-v1 deleted and created again, pointing at another artifact (uid changes with it)."""
    mv = model_version("churn-v1", sha=SHA_B, ready=ready)
    mv["metadata"]["uid"] = "uid-churn-v1-again"
    mv["spec"]["artifact"]["uri"] = "https://elsewhere.example/churn/"
    return mv


def test_a_first_rollout_pins_the_ready_version_with_its_uid() -> None:
    p = plan(model_deployment(), Observed.from_objects(UID, [model_version("churn-v1")]), image="img:1", now=NOW)
    assert p.status["pinned"] == [PIN_V1]


def test_a_recreated_version_that_is_not_ready_changes_nothing_the_pods_fetch() -> None:
    p = _plan(model_deployment(status=_stable()), [_recreated(ready=None)])
    assert _fetch_args(p) == ["fetch", "--uri", "file:///artifacts/churn-v1", "--sha256", SHA_A, "--dest", "/models"]
    assert p.status["pinned"] == [PIN_V1]
    status, reason, message = _ready(p)
    assert (status, reason) == ("False", "VersionReplaced")
    assert "uid-churn-v1 -> uid-churn-v1-again" in message
    assert f"pinned artifact file:///artifacts/churn-v1 (sha256 {SHA_A})" in message
    assert p.delete == ()


def test_a_recreated_version_that_failed_verification_changes_nothing_either() -> None:
    p = _plan(model_deployment(status=_stable()), [_recreated(ready=False)])
    assert SHA_B not in _fetch_args(p)
    assert _ready(p)[1] == "VersionReplaced"
    assert "DigestMismatch" in _ready(p)[2]


def test_a_deleted_version_leaves_its_pods_as_pinned_and_says_so() -> None:
    p = _plan(model_deployment(status=_stable()), [])
    assert ("Deployment", "churn-churn-v1") in [(c["kind"], c["metadata"]["name"]) for c in p.apply]
    assert SHA_A in _fetch_args(p)
    assert p.delete == ()
    status, reason, message = _ready(p)
    assert (status, reason) == ("False", "VersionMissing")
    assert "ModelVersion churn-v1 (uid uid-churn-v1) no longer exists" in message
    assert "churn-v1 keeps serving (2/2 replicas available)" in message
    assert p.status["pinned"] == [PIN_V1]
    assert p.status["stable"] == "churn-v1"
    # Waiting will not bring it back: kstatus and Argo CD see a stalled deployment.
    assert next(c for c in p.status["conditions"] if c["type"] == "Stalled")["reason"] == "VersionMissing"


def test_a_deleted_version_under_auto_promotion_is_missing_too() -> None:
    p = _plan(model_deployment(version=None, promotion="Auto", status=_stable()), [])
    assert _ready(p)[1] == "VersionMissing"
    assert SHA_A in _fetch_args(p)


def test_only_a_ready_recreated_version_is_pinned_and_served() -> None:
    p = _plan(model_deployment(status=_stable()), [_recreated(ready=True)])
    assert _fetch_args(p)[:5] == ["fetch", "--uri", "https://elsewhere.example/churn/", "--sha256", SHA_B]
    assert p.status["pinned"][0]["uid"] == "uid-churn-v1-again"
    assert p.status["pinned"][0]["sha256"] == SHA_B
    replaced = [e for e in p.events if e.reason == "VersionReplaced"]
    assert replaced
    assert replaced[0].type == "Warning"
    assert SHA_A in replaced[0].message
    assert SHA_B in replaced[0].message
    assert _ready(p)[1] == "Available"


def test_a_pin_written_before_a_restart_is_what_the_next_operator_serves() -> None:
    # No ModelVersion at all and a fresh process: the status alone rebuilds the same Deployment.
    first = _plan(model_deployment(status=_stable()), [model_version("churn-v1")])
    again = _plan(model_deployment(status=dict(first.status)), [])
    assert _fetch_args(first) == _fetch_args(again)

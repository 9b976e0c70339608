"""Waiting for a ModelVersion that is still being verified is Normal; only a failed one warns.

A first `kubectl apply` of a version and its deployment together reconciles the deployment
before the version has a Ready condition: that wait raised two `VersionNotReady` Warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan
from modelops.operator.plans import Plan

from .objects import UID, condition, model_deployment, model_version

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _plan(obj: dict[str, Any], versions: Sequence[dict[str, Any]]) -> Plan:
    return plan(obj, Observed.from_objects(UID, versions=versions), image="img:1", now=NOW)


def _kinds(p: Plan, reason: str) -> list[str]:
    return [e.type for e in p.events if e.reason == reason]


def _checking(name: str, reason: str, status: str = "Unknown") -> dict[str, Any]:
    return model_version(name, status={"conditions": [condition("Ready", status, reason, 1, "being checked")]})


def _switching_to(version: dict[str, Any], **spec: Any) -> Plan:
    """A deployment serving churn-v0 asked for ``version``: the wait changes an outcome, so it is announced."""
    status = {"observedGeneration": 1, "phase": "Stable", "stable": "churn-v0", "weight": 100,
              "conditions": [condition("Ready", "True", "Available")]}
    return _plan(model_deployment(version=str(version["metadata"]["name"]), status=status, generation=2, **spec),
                 [model_version("churn-v0"), version])


def test_a_first_apply_waiting_for_its_version_posts_no_event_at_all() -> None:
    # the first outcome of its conditions, and good news: the status says it (conditions.first_outcome)
    for version in (model_version("churn-v1", ready=None), _checking("churn-v1", "Verifying"),
                    _checking("churn-v1", "ValidationPending", "False")):
        p = _plan(model_deployment(), [version])
        assert p.status["conditions"][0]["reason"] == "VersionNotReady"
        assert p.events == (), version["status"]


def test_a_version_being_verified_or_validated_is_waited_for_with_normal_events() -> None:
    for version in (model_version("churn-v1", ready=None), _checking("churn-v1", "Verifying"),
                    _checking("churn-v1", "Validating", "False"), _checking("churn-v1", "ValidationPending", "False")):
        p = _switching_to(version)
        assert set(_kinds(p, "VersionNotReady")) == {"Normal"}, version["status"]


def test_promotion_auto_waiting_for_a_first_version_being_verified_is_not_a_warning() -> None:
    p = _plan(model_deployment(version=None, promotion="Auto"), [_checking("churn-v1", "Verifying")])
    assert "Warning" not in [e.type for e in p.events]


def test_a_version_that_failed_is_still_a_warning() -> None:
    p = _plan(model_deployment(), [model_version("churn-v1", ready=False)])
    assert set(_kinds(p, "VersionNotReady")) == {"Warning"}
    failed = _checking("churn-v1", "ValidationFailed", "False")
    p = _plan(model_deployment(version=None, promotion="Auto"), [failed])
    assert set(_kinds(p, "VersionNotReady")) == {"Warning"}

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


def test_a_version_without_a_ready_condition_yet_is_waited_for_with_normal_events() -> None:
    p = _plan(model_deployment(), [model_version("churn-v1", ready=None)])
    assert _kinds(p, "VersionNotReady")
    assert set(_kinds(p, "VersionNotReady")) == {"Normal"}


def test_a_version_being_verified_or_validated_is_waited_for_with_normal_events() -> None:
    for version in (_checking("churn-v1", "Verifying"), _checking("churn-v1", "Validating", "False"),
                    _checking("churn-v1", "ValidationPending", "False")):
        p = _plan(model_deployment(), [version])
        assert set(_kinds(p, "VersionNotReady")) == {"Normal"}, version["status"]


def test_promotion_auto_waiting_for_a_first_version_being_verified_is_normal() -> None:
    p = _plan(model_deployment(version=None, promotion="Auto"), [_checking("churn-v1", "Verifying")])
    assert set(_kinds(p, "VersionNotReady")) == {"Normal"}


def test_a_version_that_failed_is_still_a_warning() -> None:
    p = _plan(model_deployment(), [model_version("churn-v1", ready=False)])
    assert set(_kinds(p, "VersionNotReady")) == {"Warning"}
    failed = _checking("churn-v1", "ValidationFailed", "False")
    p = _plan(model_deployment(version=None, promotion="Auto"), [failed])
    assert set(_kinds(p, "VersionNotReady")) == {"Warning"}

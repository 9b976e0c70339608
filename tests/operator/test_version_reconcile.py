"""ModelVersion decisions without a server: when to verify, and the status an outcome yields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.operator.modelversion.reconcile import Outcome, Verify, conclude, decide
from modelops.operator.plans import Plan

from .objects import SHA_A, condition, model_version

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SUMMARY = {"sha256": SHA_A, "sizeBytes": 1234, "files": 3, "features": ["a", "b"], "classes": [0, 1],
           "task": "classification", "frameworkVersions": {"scikit-learn": "1.9.1"},
           "offlineMetrics": {"accuracy": 0.9, "roc_auc": None}}


def _cond(p: Plan, type_: str) -> tuple[str, str]:
    c = next(c for c in p.status["conditions"] if c["type"] == type_)
    return c["status"], c["reason"]


def _fresh(**kw: Any) -> dict[str, Any]:
    return model_version("churn-v1", ready=None, **kw)


def test_a_new_version_is_inspected_at_once_and_marked_unknown_only_if_that_takes_a_while() -> None:
    first = decide(_fresh(), NOW)
    assert first == Verify("file:///artifacts/churn-v1", SHA_A, False)
    assert isinstance(first, Verify)
    assert first.announce is not None
    assert _cond(first.announce, "ArtifactVerified") == ("Unknown", "Verifying")
    assert _cond(first.announce, "Ready") == ("Unknown", "Verifying")
    assert first.announce.retry
    second = decide(_fresh(status=dict(first.announce.status)), NOW)
    assert second == Verify("file:///artifacts/churn-v1", SHA_A, False)
    assert isinstance(second, Verify)
    assert second.announce is None


def test_a_verified_artifact_makes_the_version_ready_with_a_summary() -> None:
    p = conclude(_fresh(), Outcome(summary=SUMMARY), NOW)
    assert _cond(p, "ArtifactVerified") == ("True", "Verified")
    assert _cond(p, "Ready") == ("True", "Verified")
    assert _cond(p, "Validated") == ("Unknown", "NotRequested")
    assert p.status["observedGeneration"] == 1
    assert p.status["artifact"]["classes"] == ["0", "1"]  # the schema's type: strings
    assert p.status["artifact"]["offlineMetrics"] == {"accuracy": 0.9}
    assert p.status["artifact"]["files"] == 3
    assert not p.retry


def test_declared_validation_keeps_the_version_not_ready_rather_than_pretending() -> None:
    obj = _fresh(validation={"holdoutUri": "s3://data/holdout.parquet", "metrics": [{"name": "roc_auc", "min": 0.8}]})
    p = conclude(obj, Outcome(summary=SUMMARY), NOW)
    assert _cond(p, "ArtifactVerified") == ("True", "Verified")
    assert _cond(p, "Validated") == ("Unknown", "ValidationPending")
    assert _cond(p, "Ready") == ("False", "ValidationPending")


def test_a_digest_mismatch_is_final_and_not_retried() -> None:
    p = conclude(_fresh(), Outcome(reason="DigestMismatch", message="manifest sha256 is b…, expected a…"), NOW)
    assert _cond(p, "ArtifactVerified") == ("False", "DigestMismatch")
    assert _cond(p, "Ready") == ("False", "DigestMismatch")
    assert not p.retry
    settled = _fresh(status=dict(p.status))
    assert isinstance(decide(settled, NOW), Plan)  # no second download


@pytest.mark.parametrize("reason", ["ArtifactNotFound", "ArtifactUnreachable"])
def test_an_unreachable_artifact_is_retried_with_backoff_and_the_condition_says_so(reason: str) -> None:
    p = conclude(_fresh(), Outcome(reason=reason, message="GET http://x/manifest.json failed"), NOW)
    assert p.retry
    assert _cond(p, "Ready") == ("False", reason)
    message = next(c["message"] for c in p.status["conditions"] if c["type"] == "Ready")
    assert message.endswith("retrying with backoff")
    assert "Stalled" not in [c["type"] for c in p.status["conditions"]]
    assert isinstance(decide(_fresh(status=dict(p.status)), NOW), Verify)


def test_joblib_without_trust_is_refused_without_downloading() -> None:
    p = decide(_fresh(fmt="joblib"), NOW)
    assert isinstance(p, Plan)
    assert _cond(p, "Ready") == ("False", "UntrustedFormat")
    trusted = decide(_fresh(fmt="joblib", trusted=True), NOW)
    assert isinstance(trusted, Verify)
    assert trusted.announce is not None
    assert _cond(trusted.announce, "Ready") == ("Unknown", "Verifying")


def test_an_invalid_spec_names_the_field() -> None:
    obj = _fresh()
    obj["spec"]["artifact"]["sha256"] = "not-a-digest"
    p = decide(obj, NOW)
    assert isinstance(p, Plan)
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    message = next(c["message"] for c in p.status["conditions"] if c["type"] == "Ready")
    assert message.startswith("spec.artifact.sha256:")


def test_a_verified_version_is_not_verified_again_until_its_generation_changes() -> None:
    verified = conclude(_fresh(), Outcome(summary=SUMMARY), NOW)
    assert isinstance(decide(_fresh(status=dict(verified.status)), NOW), Plan)
    again = decide(_fresh(status=dict(verified.status), generation=2), NOW)
    assert isinstance(again, Verify)
    assert again.announce is not None
    assert isinstance(decide(_fresh(status=dict(again.announce.status), generation=2), NOW), Verify)


@pytest.mark.parametrize("outcome", [Outcome(summary=SUMMARY), Outcome(reason="DigestMismatch", message="m")])
def test_a_retry_action_verifies_again_once_and_removes_the_annotation(outcome: Outcome) -> None:
    status = {"observedGeneration": 1, "conditions": [condition("ArtifactVerified", "False", "DigestMismatch")]}
    obj = _fresh(status=status, annotations={"modelops.dev/action": "retry"})
    assert isinstance(decide(obj, NOW), Verify)
    p = conclude(obj, outcome, NOW)
    assert p.remove_action
    assert p.events[0].reason == "RetryRequested"


def test_kstatus_sees_final_failures_as_stalled_and_transient_ones_as_not() -> None:
    final = conclude(_fresh(), Outcome(reason="DigestMismatch", message="m"), NOW)
    assert _cond(final, "Stalled") == ("True", "DigestMismatch")
    transient = conclude(_fresh(), Outcome(reason="ArtifactNotFound", message="m"), NOW)
    assert "Stalled" not in [c["type"] for c in transient.status["conditions"]]
    healed = conclude(_fresh(status=dict(final.status)), Outcome(summary=SUMMARY), NOW)
    assert "Stalled" not in [c["type"] for c in healed.status["conditions"]]

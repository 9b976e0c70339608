"""ModelVersion validation without a server: seeded status and observed Job in, Job and status out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.api.modelversion import ModelVersionStatus, Validation, ValidationResult
from modelops.operator.modelversion import validation
from modelops.operator.modelversion.reconcile import Outcome, Validate, Verify, conclude, decide
from modelops.operator.modelversion.validation import Champion, ObservedJob, job_name, observe_job, step
from modelops.operator.plans import Plan

from .objects import SHA_A, SHA_B, model_version

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
IMAGE = "registry.test/modelops:1"
SPEC = {"holdoutUri": "s3://data/churn/holdout.parquet", "metrics": [{"name": "roc_auc", "min": 0.8}],
        "championComparison": {"metric": "roc_auc", "maxDrop": 0.01},
        "fairness": {"sensitiveFeature": "gender", "maxDemographicParityDifference": 0.1}}
SUMMARY = {"sha256": SHA_A, "sizeBytes": 10, "files": 3, "features": ["a"], "classes": ["0", "1"],
           "task": "classification"}
PASSED = {"reason": "ValidationPassed", "message": "all 2 figures within their limits", "retryable": False,
          "results": [{"metric": "roc_auc", "value": 0.91, "limit": 0.8, "bound": "min", "verdict": "Pass"},
                      {"metric": "demographic_parity_difference", "group": "gender", "value": 0.04, "limit": 0.1,
                       "bound": "max", "verdict": "Pass"}],
          "report": "s3://models/churn/v2.churn-v2.validation.json"}
FAILED = {"reason": "ValidationFailed", "retryable": False,
          "message": "demographic_parity_difference across 'gender' is 0.31, above the maximum 0.1",
          "results": [{"metric": "roc_auc", "value": 0.91, "limit": 0.8, "bound": "min", "verdict": "Pass"},
                      {"metric": "demographic_parity_difference", "group": "gender", "value": 0.31, "limit": 0.1,
                       "bound": "max", "verdict": "Fail"}]}


def _cond(p: Plan, type_: str) -> tuple[str, str]:
    c = next(c for c in p.status["conditions"] if c["type"] == type_)
    return c["status"], c["reason"]


def _message(p: Plan, type_: str) -> str:
    return str(next(c for c in p.status["conditions"] if c["type"] == type_)["message"])


def _verified(**status: Any) -> dict[str, Any]:
    """A version whose artifact verified, validation declared and not concluded."""
    obj = model_version("churn-v2", ready=None, validation=SPEC)
    plan = conclude(obj, Outcome(summary=SUMMARY), NOW)
    obj["status"] = {**plan.status, **status}
    return obj


def _job(state: str, message: str | None = None, exit_code: int = 0) -> ObservedJob:
    return ObservedJob(state, "churn-v2-validate", "uid-churn-v2", message,  # type: ignore[arg-type]
                       exit_code if message is not None else None, completed_at="2026-11-27T11:59:00Z")


def test_validation_waits_for_the_artifact_to_verify_first() -> None:
    fresh = model_version("churn-v2", ready=None, validation=SPEC)
    first = decide(fresh, NOW)
    assert isinstance(first, Verify)
    assert first.announce is not None
    assert _cond(first.announce, "Validated") == ("Unknown", "ValidationPending")
    fresh["status"] = dict(first.announce.status)
    assert not isinstance(decide(fresh, NOW), Validate)  # the artifact is inspected first
    failed = conclude(fresh, Outcome(reason="DigestMismatch", message="differs"), NOW)
    fresh["status"] = dict(failed.status)
    assert isinstance(decide(fresh, NOW), Plan)  # a failed artifact is never validated


def test_a_verified_version_asks_for_its_validation_right_away() -> None:
    verified = conclude(model_version("churn-v2", ready=None, validation=SPEC), Outcome(summary=SUMMARY), NOW)
    assert verified.events == ()  # first outcomes, good news: the status says them (the Job's verdict is an Event)
    obj = _verified()
    assert _cond(Plan(status=obj["status"]), "Ready") == ("False", "ValidationPending")
    assert conclude(model_version("churn-v2", ready=None, validation=SPEC), Outcome(summary=SUMMARY),
                    NOW).requeue_after == 0
    assert decide(obj, NOW) == Validate("churn")


def test_a_missing_job_is_created_as_the_versions_own_child_with_no_api_rights() -> None:
    champion = Champion("churn-v1", "s3://models/churn/v1/", SHA_B)
    s = step(_verified(), ObservedJob("Missing", "churn-v2-validate"), champion, IMAGE, NOW)
    job = s.create
    assert job is not None
    assert job["metadata"]["name"] == "churn-v2-validate"
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelVersion", "name": "churn-v2", "uid": "uid-churn-v2",
        "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"]["backoffLimit"] == validation.BACKOFF_LIMIT <= 3
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["modelops"]
    args = container["args"]
    assert args[0] == "validate"

    def arg(flag: str) -> str:
        return str(args[args.index(flag) + 1])

    assert arg("--artifact-uri") == "file:///artifacts/churn-v2"
    assert arg("--sha256") == SHA_A
    assert Validation.model_validate_json(arg("--spec")) == Validation.model_validate(SPEC)
    assert (arg("--champion-uri"), arg("--champion-sha256")) == ("s3://models/churn/v1/", SHA_B)
    assert arg("--report-uri") == "file:///artifacts/churn-v2.churn-v2.validation.json"
    assert arg("--termination-log") == container["terminationMessagePath"]
    assert _cond(s.plan, "Validated") == ("Unknown", "Validating")
    assert _cond(s.plan, "Ready") == ("False", "Validating")
    assert s.plan.status["validation"] == {"results": [], "job": "churn-v2-validate"}
    assert [e.reason for e in s.plan.events] == ["ValidationStarted"]
    assert "against champion churn-v1" in s.plan.events[0].message


def test_without_a_serving_champion_the_comparison_is_skipped_and_said_so() -> None:
    s = step(_verified(), ObservedJob("Missing", "churn-v2-validate"), None, IMAGE, NOW)
    assert s.create is not None
    assert "--champion-uri" not in s.create["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "championComparison skipped" in _message(s.plan, "Validated")


def test_a_running_job_keeps_the_version_validating_and_creates_nothing() -> None:
    s = step(_verified(), _job("Active"), None, IMAGE, NOW)
    assert s.create is None
    assert _cond(s.plan, "Validated") == ("Unknown", "Validating")
    assert s.plan.requeue_after == validation.POLL_S


def test_a_passed_validation_makes_the_version_ready_with_every_figure() -> None:
    s = step(_verified(), _job("Complete", json.dumps(PASSED)), None, IMAGE, NOW)
    assert _cond(s.plan, "Validated") == ("True", "ValidationPassed")
    assert _cond(s.plan, "Ready") == ("True", "ValidationPassed")
    status = ModelVersionStatus.model_validate(s.plan.status)  # the schema's types
    assert status.validation is not None
    assert status.validation.job == "churn-v2-validate"
    assert status.validation.completed_at == "2026-11-27T11:59:00Z"
    assert [(r.metric, r.group, r.value, r.limit, r.bound, r.verdict) for r in status.validation.results] == [
        ("roc_auc", None, 0.91, 0.8, "min", "Pass"),
        ("demographic_parity_difference", "gender", 0.04, 0.1, "max", "Pass")]
    events = {e.reason: e for e in s.plan.events}
    assert events["ValidationPassed"].type == "Normal"
    assert "roc_auc=0.91 (min 0.8) Pass" in events["ValidationPassed"].message
    assert "report s3://models/churn/v2.churn-v2.validation.json" in events["ValidationPassed"].message


def test_a_failed_validation_names_the_worst_figure_and_is_final() -> None:
    s = step(_verified(), _job("Complete", json.dumps(FAILED)), None, IMAGE, NOW)
    assert _cond(s.plan, "Validated") == ("False", "ValidationFailed")
    assert _cond(s.plan, "Ready") == ("False", "ValidationFailed")
    assert _cond(s.plan, "Stalled") == ("True", "ValidationFailed")
    message = _message(s.plan, "Validated")
    assert message.startswith("demographic_parity_difference across 'gender' is 0.31")
    assert "demographic_parity_difference[gender]=0.31 (max 0.1) Fail" in message
    (event,) = [e for e in s.plan.events if e.reason == "ValidationFailed"]
    assert event.type == "Warning"
    assert "0.31" in event.message
    done = _verified()
    done["status"] = dict(s.plan.status)
    assert isinstance(decide(done, NOW), Plan)  # concluded: no further step, no second Job


def test_an_error_result_is_a_validation_error_naming_the_problem() -> None:
    error = {"reason": "ValidationError", "problem": "HoldoutUnreadable", "retryable": False, "results": [],
             "message": "HoldoutUnreadable: s3://data/churn/holdout.parquet: no such object"}
    s = step(_verified(), _job("Complete", json.dumps(error)), None, IMAGE, NOW)
    assert _cond(s.plan, "Validated") == ("False", "ValidationError")
    assert "HoldoutUnreadable" in _message(s.plan, "Ready")
    assert s.plan.status["validation"]["results"] == []


@pytest.mark.parametrize(("message", "expected"), [
    (None, "its pods left no termination message"),
    ("Traceback (most recent call last): ... MemoryError", "MemoryError"),
    ("{not json", "{not json"),
])
def test_a_job_that_failed_without_a_result_is_a_validation_error(message: str | None, expected: str) -> None:
    observed = ObservedJob("Failed", "churn-v2-validate", "uid-churn-v2", message, 1 if message else None,
                           "BackoffLimitExceeded: Job has reached the specified backoff limit")
    s = step(_verified(), observed, None, IMAGE, NOW)
    assert _cond(s.plan, "Validated") == ("False", "ValidationError")
    text = _message(s.plan, "Validated")
    assert "validation Job churn-v2-validate failed (BackoffLimitExceeded" in text
    assert expected in text


def test_a_retryable_error_that_ran_out_of_retries_says_so() -> None:
    error = {"reason": "ValidationError", "problem": "HoldoutUnreadable", "retryable": True, "results": [],
             "message": "HoldoutUnreadable: https://data.example/holdout.csv timed out"}
    s = step(_verified(), _job("Failed", json.dumps(error), 1), None, IMAGE, NOW)
    assert _cond(s.plan, "Validated") == ("False", "ValidationError")
    assert "gave up after 3 attempts" in _message(s.plan, "Validated")


def test_a_job_of_that_name_controlled_by_someone_else_is_a_name_conflict_never_read() -> None:
    foreign = ObservedJob("Complete", "churn-v2-validate", "uid-someone-else", json.dumps(PASSED), 0)
    s = step(_verified(), foreign, None, IMAGE, NOW)
    assert s.create is None
    assert _cond(s.plan, "Validated") == ("False", "NameConflict")
    assert _cond(s.plan, "Ready") == ("False", "NameConflict")
    assert s.plan.retry  # looked at again (with backoff) until that Job is gone
    obj = _verified()
    obj["status"] = dict(s.plan.status)
    assert decide(obj, NOW) == Validate("churn")


def test_observe_job_reads_the_newest_pods_termination_message() -> None:
    job = {"metadata": {"name": "churn-v2-validate", "ownerReferences": [
        {"kind": "ModelVersion", "uid": "uid-churn-v2", "controller": True}]},
        "status": {"conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-27T11:00:00Z"}]}}

    def pod(finished: str, message: str, code: int) -> dict[str, Any]:
        return {"metadata": {}, "status": {"containerStatuses": [{"name": "validate", "state": {"terminated": {
            "exitCode": code, "finishedAt": finished, "message": message}}}]}}

    observed = observe_job(job, [pod("2026-11-27T10:59:00Z", "new", 0), pod("2026-11-27T10:50:00Z", "old", 1)],
                           "churn-v2-validate")
    assert (observed.state, observed.message, observed.exit_code, observed.controller_uid) == (
        "Complete", "new", 0, "uid-churn-v2")
    assert observed.completed_at == "2026-11-27T11:00:00Z"
    assert observe_job(None, [], "x").state == "Missing"


def test_the_champion_is_the_stable_version_serving_the_model() -> None:
    def mdep(name: str, model: str, stable: str | None) -> dict[str, Any]:
        pinned = [{"version": stable, "uid": "u", "uri": f"s3://m/{stable}/", "sha256": SHA_B, "format": "skops"}]
        return {"metadata": {"name": name}, "spec": {"model": model},
                "status": {"stable": stable, "pinned": pinned if stable else []}}

    deployments = [mdep("other", "fraud", "fraud-v1"), mdep("b", "churn", "churn-v1"), mdep("a", "churn", None)]
    assert validation.champion(deployments, "churn", "churn-v2") == Champion("churn-v1", "s3://m/churn-v1/", SHA_B)
    assert validation.champion(deployments, "churn", "churn-v1") is None  # itself: nothing to compare with
    assert validation.champion([], "churn", "churn-v2") is None


def test_job_names_are_deterministic_label_values() -> None:
    assert job_name("churn-v2") == "churn-v2-validate"
    long = job_name("a" * 70)
    assert len(long) <= 63
    assert long.endswith("-validate")
    assert long == job_name("a" * 70)
    assert job_name("a" * 70) != job_name("a" * 69 + "b")


def test_the_figures_in_a_message_are_bounded() -> None:
    results = [ValidationResult(metric=f"m{i}", value=0.5, limit=0.6, bound="min", verdict="Fail")
               for i in range(20)]
    text = validation.describe_figures(results)
    assert text.count("Fail") == validation.FIGURES_SHOWN
    assert text.endswith("and 12 more")


def test_ready_condition_stays_generation_current() -> None:
    s = step(_verified(), _job("Complete", json.dumps(PASSED)), None, IMAGE, NOW)
    assert all(c["observedGeneration"] == 1 for c in s.plan.status["conditions"])

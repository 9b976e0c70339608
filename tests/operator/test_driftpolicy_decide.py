"""DriftPolicy decisions without a server: seed the status, give this cycle's evaluation and
the observed Job, assert the plan (next status, conditions, Job, ModelVersion, Events)."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelops.conditions import Desired
from modelops.drift.decisions import Verdict
from modelops.drift.hysteresis import DriftState
from modelops.operator.driftpolicy.decide import (
    MAX_JOB_NAME,
    Decision,
    Evaluation,
    FeatureDrift,
    JobObservation,
    LastRetrain,
    PolicySpec,
    PolicyStatus,
    decide,
    job_name,
    status_fields,
    status_from,
)
from modelops.training.gate import decide as gate
from modelops.training.result import TrainResult, decode, encode

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPEC = PolicySpec(name="churn-drift", consecutive=2, retrain_enabled=True, cooldown=timedelta(hours=6))
TOP = (FeatureDrift("tenure", "ks", 0.004, 0.05), FeatureDrift("plan", "jensenshannon", 0.31, 0.1))


def _eval(verdict: Verdict, *, samples: int = 2000, concept: Verdict | None = None,
          accuracy: float | None = None) -> Evaluation:
    drifted = 2 if verdict == "Drifted" else 0
    return Evaluation(time=NOW - timedelta(seconds=5), verdict=verdict, samples=samples, min_samples=500,
                      drifted_features=drifted, n_features=4, top=TOP if drifted else (), concept=concept,
                      accuracy=accuracy, accuracy_minimum=0.8 if concept else None)


def _cond(d: Decision, type_: str) -> tuple[str, str]:
    found: Desired = next(c for c in d.conditions if c.type == type_)
    return found.status, found.reason


def _message(d: Decision, type_: str) -> str:
    return next(c.message for c in d.conditions if c.type == type_)


def _reasons(d: Decision) -> list[str]:
    return [e.reason for e in d.events]


def _running(job: str = "churn-drift-retrain-1", started: datetime = NOW - timedelta(minutes=30),
             **extra: object) -> PolicyStatus:
    last = LastRetrain(job=job, started_at=started, trigger="Drift", drift_evaluation="2026-11-27T11:30:00Z")
    return PolicyStatus(drift=DriftState(detected=True, drifted_streak=2), retrains=1,
                        last_retrain=replace(last, **extra))  # type: ignore[arg-type]


def _trainer_result(passed: bool, *, metric: str = "roc_auc") -> TrainResult:
    verdict = gate(metric, True, 0.91 if passed else 0.85, 0.88, 0.0)
    result = TrainResult(
        result="Succeeded" if passed else "GateFailed", reason=verdict.reason, message=verdict.message,
        model_version="churn-drift-retrain-1", artifact_uri="s3://models/churn/churn-drift-retrain-1/",
        artifact_sha256="c" * 64, dataset_uri="s3://data/churn/latest.parquet", dataset_sha256="d" * 64,
        dataset_rows=5000, challenger_metrics={metric: verdict.challenger}, champion_metrics={metric: 0.88},
        gate=verdict,
    )
    return decode(encode(result))  # as the operator reads it from the termination message


# --- drift and its hysteresis --------------------------------------------------------------------


def test_one_drifted_evaluation_is_not_enough_with_consecutive_two() -> None:
    d = decide(SPEC, PolicyStatus(), now=NOW, evaluation=_eval("Drifted"))
    assert d.status.drift == DriftState(detected=False, drifted_streak=1)
    assert _cond(d, "DriftDetected") == ("False", "Drifting")
    assert "1/2 drifted in a row" in _message(d, "DriftDetected")
    assert d.job is None
    assert _cond(d, "Retraining") == ("False", "Idle")


def test_drift_detected_after_consecutive_evaluations_starts_one_job() -> None:
    seeded = PolicyStatus(drift=DriftState(drifted_streak=1))
    d = decide(SPEC, seeded, now=NOW, evaluation=_eval("Drifted"))
    assert d.status.drift.detected
    assert _cond(d, "DriftDetected") == ("True", "Drifted")
    assert d.job is not None
    assert (d.job.name, d.job.version_name, d.job.trigger) == (
        "churn-drift-retrain-1", "churn-drift-retrain-1", "Drift")
    assert d.job.drift_evaluation == d.job.created_at == "2026-11-27T11:59:55Z"
    assert d.status.retrains == 1
    assert d.status.last_retrain is not None
    assert d.status.last_retrain.running
    assert _cond(d, "Retraining") == ("True", "JobRunning")
    assert _reasons(d) == ["DriftDetected", "RetrainStarted"]
    assert "tenure ks 0.004>0.05" in d.events[0].message  # the top drifted features and their scores
    assert "plan jensenshannon 0.31>0.1" in d.events[0].message


def test_the_same_status_gives_the_same_job_name_so_a_restart_creates_no_second_job() -> None:
    seeded = PolicyStatus(drift=DriftState(drifted_streak=1), retrains=4)
    first = decide(SPEC, seeded, now=NOW, evaluation=_eval("Drifted"))
    again = decide(SPEC, seeded, now=NOW + timedelta(minutes=1), evaluation=_eval("Drifted"))
    assert first.job is not None
    assert again.job is not None
    assert first.job.name == again.job.name == "churn-drift-retrain-5"


def test_clean_evaluations_clear_drift_after_consecutive() -> None:
    seeded = PolicyStatus(drift=DriftState(detected=True, clean_streak=1))
    d = decide(SPEC, seeded, now=NOW, evaluation=_eval("Clean"))
    assert not d.status.drift.detected
    assert _cond(d, "DriftDetected") == ("False", "Clean")
    assert _reasons(d) == ["DriftCleared"]


@pytest.mark.parametrize("detected", [False, True])
def test_insufficient_never_counts_and_never_triggers(detected: bool) -> None:
    seeded = PolicyStatus(drift=DriftState(detected=detected, drifted_streak=1, clean_streak=0))
    d = decide(SPEC, seeded, now=NOW, evaluation=_eval("Insufficient", samples=120))
    assert d.status.drift == DriftState(detected=detected)  # streaks broken, the state kept
    assert _cond(d, "DriftDetected") == ("True" if detected else "False", "InsufficientSamples")
    assert "120 samples, fewer than minSamples 500" in _message(d, "DriftDetected")
    assert d.job is None
    assert d.events == ()


def test_concept_drift_counts_as_drift_and_says_so() -> None:
    seeded = PolicyStatus(drift=DriftState(drifted_streak=1))
    d = decide(SPEC, seeded, now=NOW, evaluation=_eval("Clean", concept="Drifted", accuracy=0.71))
    assert _cond(d, "DriftDetected") == ("True", "ConceptDrift")
    assert "concept drift: accuracy 0.710 below 0.8" in _message(d, "DriftDetected")
    assert d.job is not None


def test_concept_drift_is_judged_even_when_inputs_are_too_few() -> None:
    e = _eval("Insufficient", samples=100, concept="Drifted", accuracy=0.5)
    assert e.combined == "Drifted"
    assert _eval("Insufficient", concept="Clean").combined == "Insufficient"  # never Clean below minSamples


# --- one retrain at a time, cooldown -----------------------------------------------------------------


def test_no_second_job_while_one_runs() -> None:
    d = decide(SPEC, _running(), now=NOW, evaluation=_eval("Drifted"),
               job=JobObservation("churn-drift-retrain-1", "Active"))
    assert d.job is None
    assert d.status.retrains == 1
    assert _cond(d, "Retraining") == ("True", "JobRunning")
    assert d.events == ()


@pytest.mark.parametrize("result", ["GateFailed", "Failed", "Succeeded"])
def test_no_drift_triggered_job_during_cooldown_whatever_the_last_result(result: str) -> None:
    done = _running(completed_at=NOW - timedelta(hours=1), result=result, reason="X")
    d = decide(SPEC, done, now=NOW, evaluation=_eval("Drifted"))
    assert d.job is None
    assert "next drift-triggered retrain not before 2026-11-27T17:00:00Z" in _message(d, "Retraining")
    later = decide(SPEC, done, now=NOW + timedelta(hours=5, minutes=1), evaluation=_eval("Drifted"))
    assert later.job is not None
    assert later.job.name == "churn-drift-retrain-2"


def test_retraining_disabled_detects_drift_but_starts_nothing() -> None:
    spec = replace(SPEC, retrain_enabled=False)
    d = decide(spec, PolicyStatus(drift=DriftState(drifted_streak=1)), now=NOW, evaluation=_eval("Drifted"))
    assert _cond(d, "DriftDetected") == ("True", "Drifted")
    assert d.job is None
    assert _cond(d, "Retraining") == ("False", "RetrainDisabled")


# --- reading the Job's result -----------------------------------------------------------------------


def test_a_passed_gate_creates_the_model_version_with_lineage() -> None:
    job = JobObservation("churn-drift-retrain-1", "Succeeded", result=_trainer_result(passed=True))
    d = decide(SPEC, _running(), now=NOW, job=job, parent="churn-v1")
    assert d.model_version is not None
    assert d.model_version.name == "churn-drift-retrain-1"
    assert (d.model_version.artifact_uri, d.model_version.artifact_sha256) == (
        "s3://models/churn/churn-drift-retrain-1/", "c" * 64)
    assert d.model_version.lineage == {
        "parent": "churn-v1", "datasetUri": "s3://data/churn/latest.parquet", "datasetSha256": "d" * 64,
        "job": "churn-drift-retrain-1", "driftPolicy": "churn-drift", "driftEvaluation": "2026-11-27T11:30:00Z"}
    last = d.status.last_retrain
    assert last is not None
    assert (last.result, last.model_version, last.completed_at) == ("Succeeded", "churn-drift-retrain-1", NOW)
    assert last.gate is not None
    assert (last.gate.metric, last.gate.champion, last.gate.challenger) == ("roc_auc", 0.88, 0.91)
    assert _cond(d, "Retraining") == ("False", "RetrainSucceeded")
    assert _reasons(d) == ["RetrainSucceeded"]
    assert "0.9100 vs champion 0.8800" in d.events[0].message


def test_a_failed_gate_creates_nothing_and_starts_the_cooldown() -> None:
    job = JobObservation("churn-drift-retrain-1", "Succeeded", result=_trainer_result(passed=False))
    d = decide(SPEC, _running(), now=NOW, job=job, evaluation=_eval("Drifted"))
    assert d.model_version is None
    assert d.job is None  # still drifted, but the cooldown starts now
    assert d.status.last_retrain is not None
    assert (d.status.last_retrain.result, d.status.last_retrain.reason) == ("GateFailed", "NotImproved")
    assert _cond(d, "Retraining") == ("False", "GateFailed")
    assert "challenger roc_auc 0.8500 vs champion 0.8800" in _message(d, "Retraining")
    assert [(e.type, e.reason) for e in d.events] == [("Warning", "GateFailed")]


def test_a_failed_job_records_the_trainers_reason() -> None:
    failed = decode(encode(TrainResult("Failed", "DatasetNotFound", "s3://data/churn/latest.parquet does not exist")))
    d = decide(SPEC, _running(), now=NOW, job=JobObservation("churn-drift-retrain-1", "Failed", result=failed))
    assert d.status.last_retrain is not None
    assert (d.status.last_retrain.result, d.status.last_retrain.reason) == ("Failed", "DatasetNotFound")
    assert _cond(d, "Retraining") == ("False", "RetrainFailed")
    assert "does not exist" in _message(d, "Retraining")
    no_message = decide(SPEC, _running(), now=NOW,
                        job=JobObservation("churn-drift-retrain-1", "Failed", problem="BackoffLimitExceeded"))
    assert no_message.status.last_retrain is not None
    assert no_message.status.last_retrain.reason == "JobFailed"
    assert "BackoffLimitExceeded" in no_message.status.last_retrain.message


def test_a_succeeded_job_without_a_result_is_a_failure_not_a_pass() -> None:
    d = decide(SPEC, _running(), now=NOW,
               job=JobObservation("churn-drift-retrain-1", "Succeeded", problem="termination message is empty"))
    assert d.model_version is None
    assert d.status.last_retrain is not None
    assert (d.status.last_retrain.result, d.status.last_retrain.reason) == ("Failed", "NoResult")


def test_a_job_recorded_but_not_yet_created_is_created_again_under_the_same_name() -> None:
    fresh = _running(started=NOW - timedelta(seconds=20))
    d = decide(SPEC, fresh, now=NOW, job=None)
    assert d.job is not None
    assert (d.job.name, d.job.drift_evaluation) == ("churn-drift-retrain-1", "2026-11-27T11:30:00Z")
    assert d.status.retrains == 1  # not a new retrain
    lost = decide(SPEC, _running(), now=NOW, job=JobObservation("churn-drift-retrain-1", "Missing"))
    assert lost.job is None
    assert lost.status.last_retrain is not None
    assert (lost.status.last_retrain.result, lost.status.last_retrain.reason) == ("Failed", "JobMissing")


# --- the manual action, suspend -------------------------------------------------------------------------


def test_manual_retrain_runs_without_drift_skips_the_cooldown_and_is_removed() -> None:
    done = _running(completed_at=NOW - timedelta(minutes=5), result="GateFailed", reason="NotImproved")
    d = decide(SPEC, replace(done, drift=DriftState()), now=NOW, manual_retrain=True)
    assert d.job is not None
    assert (d.job.name, d.job.trigger, d.job.drift_evaluation, d.job.created_at) == (
        "churn-drift-retrain-2", "Manual", None, "2026-11-27T12:00:00Z")
    assert d.remove_action
    assert _reasons(d) == ["RetrainStarted"]


@pytest.mark.parametrize(
    ("spec", "status", "why"),
    [
        (SPEC, _running(), "retrain Job churn-drift-retrain-1 is still running (one at a time)"),
        (replace(SPEC, retrain_enabled=False), PolicyStatus(), "retraining is not enabled"),
        (replace(SPEC, suspend=True), PolicyStatus(), "the policy is suspended"),
    ],
)
def test_manual_retrain_that_cannot_run_is_refused_with_an_event_and_removed(
    spec: PolicySpec, status: PolicyStatus, why: str
) -> None:
    d = decide(spec, status, now=NOW, manual_retrain=True, job=JobObservation("churn-drift-retrain-1", "Active"))
    assert d.job is None
    assert d.remove_action
    refused = [e for e in d.events if e.reason == "RetrainRefused"]
    assert len(refused) == 1
    assert why in refused[0].message


def test_suspend_stops_evaluating_but_still_records_a_finished_job() -> None:
    spec = replace(SPEC, suspend=True)
    job = JobObservation("churn-drift-retrain-1", "Succeeded", result=_trainer_result(passed=True))
    d = decide(spec, _running(), now=NOW, evaluation=_eval("Clean"), job=job)
    assert d.status.drift == _running().drift  # the evaluation was not taken
    assert [c.type for c in d.conditions] == ["Retraining"]
    assert d.model_version is not None


# --- status round trip, names, purity ----------------------------------------------------------------------


def test_status_round_trips_through_its_json() -> None:
    job = JobObservation("churn-drift-retrain-1", "Succeeded", result=_trainer_result(passed=True))
    d = decide(SPEC, _running(), now=NOW, job=job)
    fields = status_fields(d.status)
    assert fields["lastRetrain"]["result"] == "Succeeded"
    assert fields["lastRetrain"]["gate"] == {"metric": "roc_auc", "champion": 0.88, "challenger": 0.91}
    raw = {**fields, "conditions": [{"type": "DriftDetected", "status": "True", "reason": "Drifted"}]}
    assert status_from(raw) == d.status
    assert status_from(None) == PolicyStatus()


def test_job_names_fit_a_label_value() -> None:
    assert job_name("churn-drift", 3) == "churn-drift-retrain-3"
    long = job_name("a" * 80, 12)
    assert len(long) <= MAX_JOB_NAME
    assert long.endswith("-retrain-12")
    assert long != job_name("a" * 79 + "b", 12)


def test_the_decision_module_is_pure() -> None:
    source = Path(__file__).resolve().parents[2] / "operator" / "driftpolicy" / "decide.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    forbidden = ("kopf", "aiohttp", "kubernetes", "modelops.operator.kube", "modelops.artifact", "sklearn")
    assert sorted(n for n in imported if n.startswith(forbidden)) == []

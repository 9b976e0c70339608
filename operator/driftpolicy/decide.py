"""DriftPolicy decisions: from the policy, its status, this cycle's drift evaluation and the
observed retraining Job, the next status and what to do. Pure: no I/O, time is an input.

One call per reconcile, in this order:

1. **Drift** (when an evaluation ran this cycle and the policy is not suspended): the
   hysteresis of ``modelops.drift.hysteresis`` advances by the evaluation's verdict;
   ``DriftDetected`` is set after ``consecutive`` Drifted evaluations in a row and cleared
   after as many Clean ones. An ``Insufficient`` evaluation (below ``minSamples``) never
   counts: it breaks both streaks and keeps the condition as it was. Concept drift (rolling
   accuracy below the minimum, with enough labelled rows) makes an evaluation Drifted too.
2. **The running retrain** (``lastRetrain`` without a result): its Job is looked at. Active:
   wait. Succeeded with a result whose gate passed: create the ModelVersion (deterministic
   name, lineage). Gate failed, Job failed, no readable result, or the Job gone: record it.
3. **A new retrain**, when this evaluation is Drifted with DriftDetected set, or when the
   ``modelops.dev/action: retrain`` annotation asks. Never two at a time; a drift-triggered
   one waits out ``cooldown`` after the last retrain (whatever its result: no retrain storm
   on a failing gate); the manual action skips the cooldown (a person asked) but not the
   one-at-a-time rule, and is removed either way (refused with an Event when it cannot run).

Job names are ``<policy>-retrain-<n>``, with ``n`` counted in ``status.retrains``: the name
is derived from persisted state only, so a restart (or a crash between creating the Job and
writing status) computes the same name again and never creates a second Job. The
ModelVersion made from a Job carries the same name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from modelops.conditions import Desired, Status, find, now_rfc3339
from modelops.drift.decisions import Verdict
from modelops.drift.hysteresis import DriftState, advance
from modelops.operator.plans import Event, EventType
from modelops.training.result import TrainResult

RETRAIN_ACTION = "retrain"
# A Job recorded in status may not be visible yet (status is written before the Job in the
# same cycle): only after this long is a missing Job taken as lost rather than re-created.
JOB_START_GRACE = timedelta(minutes=2)
MAX_JOB_NAME = 63  # the Job's pods are labelled job-name=<name>: a label value
TOP_FEATURES = 5  # named in messages and Events

Trigger = Literal["Drift", "Manual"]
RetrainResult = Literal["Succeeded", "GateFailed", "Failed"]
JobState = Literal["Active", "Succeeded", "Failed", "Missing"]


@dataclass(frozen=True)
class PolicySpec:
    """The fields of a DriftPolicy's spec that the decisions read."""

    name: str
    consecutive: int = 2
    suspend: bool = False
    retrain_enabled: bool = False  # spec.retrain is set and enabled
    cooldown: timedelta = timedelta(hours=6)
    generation: int | None = None


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    method: str
    score: float
    threshold: float


@dataclass(frozen=True)
class Evaluation:
    """One drift evaluation, as the evaluator summarised it."""

    time: datetime
    verdict: Verdict  # dataset drift; Insufficient below minSamples
    samples: int
    min_samples: int
    drifted_features: int
    n_features: int
    top: tuple[FeatureDrift, ...] = ()  # drifted features, worst first
    concept: Verdict | None = None  # concept drift, when configured
    accuracy: float | None = None
    accuracy_minimum: float | None = None

    @property
    def combined(self) -> Verdict:
        """Drifted when the data or the concept drifted; Clean only when the data is
        judged clean (enough samples) and the concept did not drift; else Insufficient."""
        if "Drifted" in (self.verdict, self.concept):
            return "Drifted"
        if self.verdict == "Clean":
            return "Clean"
        return "Insufficient"


@dataclass(frozen=True)
class GateFigures:
    metric: str
    champion: float | None
    challenger: float | None


@dataclass(frozen=True)
class LastRetrain:
    """``status.lastRetrain``: the latest retrain, running (``result`` None) or done."""

    job: str
    started_at: datetime
    trigger: Trigger
    drift_evaluation: str | None = None  # time of the evaluation that triggered it
    completed_at: datetime | None = None
    result: RetrainResult | None = None
    reason: str | None = None
    message: str = ""
    model_version: str | None = None
    gate: GateFigures | None = None

    @property
    def running(self) -> bool:
        return self.result is None


@dataclass(frozen=True)
class PolicyStatus:
    """What the decisions persist between cycles (and resume from after a restart)."""

    drift: DriftState = field(default_factory=DriftState)
    retrains: int = 0  # Jobs started so far: names the next one
    last_retrain: LastRetrain | None = None


@dataclass(frozen=True)
class JobObservation:
    """The Job named in ``lastRetrain.job``, as observed: its state and, once its pod has
    terminated, the trainer's result read from the termination message (``problem`` says
    why there is none: no message, unreadable JSON, the Job's failure reason)."""

    name: str
    state: JobState
    result: TrainResult | None = None
    problem: str = ""


@dataclass(frozen=True)
class JobRequest:
    """Create (or, if it exists, keep) the retraining Job."""

    name: str
    version_name: str  # the trainer's --name: the artifact directory and the ModelVersion
    trigger: Trigger
    drift_evaluation: str | None  # --drift-evaluation
    created_at: str  # --created-at: the same Job always builds the same artifact bytes


@dataclass(frozen=True)
class VersionRequest:
    """Create the ModelVersion of a retrain whose gate passed (owned by nobody)."""

    name: str
    artifact_uri: str
    artifact_sha256: str
    lineage: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    status: PolicyStatus
    conditions: tuple[Desired, ...]
    job: JobRequest | None = None
    model_version: VersionRequest | None = None
    events: tuple[Event, ...] = ()
    remove_action: bool = False


def decide(
    spec: PolicySpec,
    status: PolicyStatus,
    *,
    now: datetime,
    evaluation: Evaluation | None = None,
    job: JobObservation | None = None,
    manual_retrain: bool = False,
    parent: str | None = None,
) -> Decision:
    """The next status and actions. ``parent`` is the target's stable version (lineage)."""
    events: list[Event] = []
    conditions: list[Desired] = []

    drift = status.drift
    if evaluation is not None and not spec.suspend:
        verdict = evaluation.combined
        before = drift.detected
        drift = advance(drift, verdict, spec.consecutive)
        conditions.append(_drift_condition(drift, evaluation, spec.consecutive))
        if drift.detected and not before:
            events.append(Event("Warning", "DriftDetected", _drift_summary(evaluation)))
        elif before and not drift.detected:
            events.append(Event("Normal", "DriftCleared", _drift_summary(evaluation)))

    last = status.last_retrain
    version: VersionRequest | None = None
    request: JobRequest | None = None
    if last is not None and last.running:
        last, version, request, observed = _observe(spec, last, job, now, parent)
        events.extend(observed)

    retrains = status.retrains
    drift_wants = evaluation is not None and not spec.suspend and evaluation.combined == "Drifted" and drift.detected
    if manual_retrain or drift_wants:
        blocked = _blocked(spec, last, now, manual=manual_retrain)
        if blocked is None:
            retrains += 1
            trigger: Trigger = "Manual" if manual_retrain else "Drift"
            request = _job_request(spec.name, retrains, trigger, evaluation, now)
            last = LastRetrain(job=request.name, started_at=now, trigger=trigger,
                               drift_evaluation=request.drift_evaluation)
            why = ("modelops.dev/action=retrain" if trigger == "Manual"
                   else f"drift detected: {_drift_summary(evaluation)}" if evaluation else "drift detected")
            events.append(Event("Normal", "RetrainStarted", f"Job {request.name}: {why}"))
        elif manual_retrain:
            events.append(Event("Warning", "RetrainRefused", f"modelops.dev/action=retrain: {blocked}"))

    conditions.append(_retraining_condition(spec, last, now))
    return Decision(
        status=PolicyStatus(drift=drift, retrains=retrains, last_retrain=last),
        conditions=tuple(conditions),
        job=request,
        model_version=version,
        events=tuple(events),
        remove_action=manual_retrain,
    )


def job_name(policy: str, n: int) -> str:
    """``<policy>-retrain-<n>``, shortened with a hash of the policy name to fit a label."""
    suffix = f"-retrain-{n}"
    if len(policy) + len(suffix) <= MAX_JOB_NAME:
        return policy + suffix
    digest = hashlib.sha256(policy.encode()).hexdigest()[:8]
    head = policy[: MAX_JOB_NAME - len(suffix) - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}{suffix}"


def _job_request(policy: str, n: int, trigger: Trigger, evaluation: Evaluation | None, now: datetime) -> JobRequest:
    name = job_name(policy, n)
    when = now_rfc3339(evaluation.time) if trigger == "Drift" and evaluation is not None else None
    return JobRequest(name=name, version_name=name, trigger=trigger, drift_evaluation=when,
                      created_at=when or now_rfc3339(now))


def _blocked(spec: PolicySpec, last: LastRetrain | None, now: datetime, *, manual: bool) -> str | None:
    """Why a retrain cannot start now, or None."""
    if not spec.retrain_enabled:
        return "retraining is not enabled (spec.retrain)"
    if spec.suspend:
        return "the policy is suspended"
    if last is not None and last.running:
        return f"retrain Job {last.job} is still running (one at a time)"
    until = _cooldown_until(spec, last)
    if not manual and until is not None and now < until:
        return f"cooling down until {now_rfc3339(until)}"
    return None


def _cooldown_until(spec: PolicySpec, last: LastRetrain | None) -> datetime | None:
    if last is None:
        return None
    return (last.completed_at or last.started_at) + spec.cooldown


def _observe(
    spec: PolicySpec, last: LastRetrain, job: JobObservation | None, now: datetime, parent: str | None
) -> tuple[LastRetrain, VersionRequest | None, JobRequest | None, list[Event]]:
    """The running retrain after looking at its Job."""
    observed = job if job is not None and job.name == last.job else None
    if observed is None or observed.state == "Missing":
        if now - last.started_at <= JOB_START_GRACE:
            # Recorded but not created yet (a crash between the two writes): create it again.
            again = JobRequest(name=last.job, version_name=last.job, trigger=last.trigger,
                               drift_evaluation=last.drift_evaluation,
                               created_at=last.drift_evaluation or now_rfc3339(last.started_at))
            return last, None, again, []
        return _done(last, now, "Failed", "JobMissing", f"Job {last.job} no longer exists and left no result")
    if observed.state == "Active":
        return last, None, None, []
    result = observed.result
    if observed.state == "Failed":
        if result is not None and result.result == "Failed":
            return _done(last, now, "Failed", result.reason, f"Job {last.job} failed: {result.message}")
        return _done(last, now, "Failed", "JobFailed",
                     f"Job {last.job} failed: {observed.problem or 'no reason given'}")
    if result is None:
        return _done(last, now, "Failed", "NoResult",
                     f"Job {last.job} succeeded but left no readable result: {observed.problem or 'empty'}")
    gate = result.gate
    figures = GateFigures(gate.metric, gate.champion, gate.challenger) if gate is not None else None
    if result.result == "Failed":
        return _done(last, now, "Failed", result.reason, f"Job {last.job}: {result.message}")
    if result.result == "GateFailed" or gate is None or not gate.passed:
        message = gate.message if gate is not None else "the result has no gate verdict"
        return _done(last, now, "GateFailed", result.reason if gate is not None else "NoGateVerdict",
                     message, gate=figures)
    if not result.artifact_uri or not result.artifact_sha256:
        return _done(last, now, "Failed", "NoArtifact", f"Job {last.job}: the result names no artifact")
    name = result.model_version or last.job
    lineage = {k: v for k, v in (
        ("parent", parent), ("datasetUri", result.dataset_uri), ("datasetSha256", result.dataset_sha256),
        ("job", last.job), ("driftPolicy", spec.name), ("driftEvaluation", last.drift_evaluation),
    ) if v is not None}
    version = VersionRequest(name=name, artifact_uri=result.artifact_uri, artifact_sha256=result.artifact_sha256,
                             lineage=lineage)
    done, _, _, events = _done(last, now, "Succeeded", result.reason,
                               f"ModelVersion {name} created: {gate.message}", gate=figures)
    return replace(done, model_version=name), version, None, events


def _done(
    last: LastRetrain, now: datetime, result: RetrainResult, reason: str, message: str,
    *, gate: GateFigures | None = None,
) -> tuple[LastRetrain, None, None, list[Event]]:
    finished = replace(last, completed_at=now, result=result, reason=reason, message=message, gate=gate)
    kind, event_reason = _OUTCOME_EVENTS[result]
    return finished, None, None, [Event(kind, event_reason, f"{reason}: {message}")]


_OUTCOME_EVENTS: dict[RetrainResult, tuple[EventType, str]] = {
    "Succeeded": ("Normal", "RetrainSucceeded"),
    "GateFailed": ("Warning", "GateFailed"),
    "Failed": ("Warning", "RetrainFailed"),
}


def _drift_condition(drift: DriftState, evaluation: Evaluation, consecutive: int) -> Desired:
    status: Status = "True" if drift.detected else "False"
    verdict = evaluation.combined
    if verdict == "Insufficient":
        message = (f"{evaluation.samples} samples, fewer than minSamples {evaluation.min_samples}: not judged; "
                   f"DriftDetected stays {status}")
        return Desired("DriftDetected", status, "InsufficientSamples", message)
    streak = (f"{drift.drifted_streak}/{consecutive} drifted in a row" if verdict == "Drifted"
              else f"{drift.clean_streak}/{consecutive} clean in a row")
    message = f"{_drift_summary(evaluation)}; {streak}"
    if drift.detected:
        concept_only = evaluation.concept == "Drifted" and evaluation.verdict != "Drifted"
        return Desired("DriftDetected", "True", "ConceptDrift" if concept_only else "Drifted", message)
    return Desired("DriftDetected", "False", "Clean" if verdict == "Clean" else "Drifting", message)


def _drift_summary(evaluation: Evaluation) -> str:
    parts = [f"{evaluation.drifted_features}/{evaluation.n_features} features drifted over "
             f"{evaluation.samples} samples"]
    if evaluation.top:
        parts.append("top: " + ", ".join(
            f"{f.name} {f.method} {f.score:.3g}>{f.threshold:.3g}" for f in evaluation.top[:TOP_FEATURES]))
    if evaluation.concept == "Drifted" and evaluation.accuracy is not None:
        parts.append(f"concept drift: accuracy {evaluation.accuracy:.3f} below {evaluation.accuracy_minimum}")
    return "; ".join(parts)


def _retraining_condition(spec: PolicySpec, last: LastRetrain | None, now: datetime) -> Desired:
    if last is not None and last.running:
        return Desired("Retraining", "True", "JobRunning",
                       f"Job {last.job} ({last.trigger.lower()}) started {now_rfc3339(last.started_at)}")
    if not spec.retrain_enabled:
        return Desired("Retraining", "False", "RetrainDisabled", "retraining is not enabled (spec.retrain)")
    if last is None:
        return Desired("Retraining", "False", "Idle", "no retrain yet")
    reason = {"Succeeded": "RetrainSucceeded", "GateFailed": "GateFailed", "Failed": "RetrainFailed"}[
        last.result or "Failed"]
    message = f"Job {last.job}: {last.reason}: {last.message}"
    until = _cooldown_until(spec, last)
    if until is not None and now < until:
        message += f"; next drift-triggered retrain not before {now_rfc3339(until)}"
    return Desired("Retraining", "False", reason, message)


# --- status <-> these values ---------------------------------------------------------------


def status_from(raw: Mapping[str, Any] | None) -> PolicyStatus:
    """The decisions' state from a DriftPolicy's ``status`` (as the API returns it)."""
    raw = raw or {}
    detected = (find(raw.get("conditions"), "DriftDetected") or {}).get("status") == "True"
    last = raw.get("lastRetrain")
    return PolicyStatus(
        drift=DriftState.from_status(detected, raw.get("streak")),
        retrains=int(raw.get("retrains") or 0),
        last_retrain=_last_from(last) if isinstance(last, Mapping) and last.get("job") else None,
    )


def status_fields(state: PolicyStatus) -> dict[str, Any]:
    """``streak``, ``retrains`` and ``lastRetrain`` as status JSON (conditions are merged
    separately, with modelops.conditions.merge)."""
    out: dict[str, Any] = {"streak": state.drift.streak_json(), "retrains": state.retrains}
    last = state.last_retrain
    if last is not None:
        entry: dict[str, Any] = {"job": last.job, "startedAt": now_rfc3339(last.started_at), "trigger": last.trigger}
        for key, value in (("driftEvaluation", last.drift_evaluation), ("result", last.result),
                           ("reason", last.reason), ("modelVersion", last.model_version)):
            if value is not None:
                entry[key] = value
        if last.completed_at is not None:
            entry["completedAt"] = now_rfc3339(last.completed_at)
        if last.message:
            entry["message"] = last.message
        if last.gate is not None:
            entry["gate"] = {k: v for k, v in (("metric", last.gate.metric), ("champion", last.gate.champion),
                                                ("challenger", last.gate.challenger)) if v is not None}
        out["lastRetrain"] = entry
    return out


def _last_from(raw: Mapping[str, Any]) -> LastRetrain:
    gate = raw.get("gate")
    return LastRetrain(
        job=str(raw["job"]),
        # a start time lost from status reads as long ago: no grace, no cooldown from it
        started_at=_time(raw.get("startedAt")) or datetime.min.replace(tzinfo=UTC),
        trigger="Manual" if raw.get("trigger") == "Manual" else "Drift",
        drift_evaluation=raw.get("driftEvaluation"),
        completed_at=_time(raw.get("completedAt")),
        result=raw.get("result") if raw.get("result") in ("Succeeded", "GateFailed", "Failed") else None,
        reason=raw.get("reason"),
        message=str(raw.get("message") or ""),
        model_version=raw.get("modelVersion"),
        gate=GateFigures(str(gate.get("metric")), gate.get("champion"), gate.get("challenger"))
        if isinstance(gate, Mapping) and gate.get("metric") else None,
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

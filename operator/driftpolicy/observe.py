"""What one DriftPolicy reconcile observed, turned into the values the decisions take. Pure.

- ``serving_pods``: the target's ready serving pods of one version (candidate pods are
  never mixed with stable's: they carry another ``modelops.dev/version`` label).
- ``merge_replicas``: each replica's ``/drift`` answer parsed and checked against the
  reference profile's bin layout; a replica whose counts do not fit is left out and named
  (a replica of another layout would make the sum meaningless), the rest summed bucket-wise.
- ``feedback_accuracy``: rolling accuracy from the replicas' ``/metrics``.
- ``summarize``: the scores as ``decide.Evaluation`` plus the bounded ``lastEvaluation``.
- ``job_observation``: the retraining Job and its pods as ``decide.JobObservation``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from modelops.api.driftpolicy import MAX_DRIFTED_LISTED, TOP_LISTED
from modelops.conditions import now_rfc3339
from modelops.drift.counts import CountsError, DriftCounts, merge_all
from modelops.drift.decisions import Verdict
from modelops.drift.evaluation import Evaluation as Scores
from modelops.drift.profile import Profile
from modelops.drift.thresholds import LOWER_IS_DRIFT
from modelops.operator.driftpolicy import decide
from modelops.training.result import decode

SERVING_PORT = 8080
MAX_UNREACHABLE_LISTED = 20
# A Job reported finished before its pod's terminated state is written (two writers): the
# result is waited for this long before the Job counts as having left none.
RESULT_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class ServingPod:
    name: str
    url: str  # http://<podIP>:<port>


@dataclass(frozen=True)
class Replicas:
    """The merged counts of the replicas that answered, and the ones left out (name: why)."""

    counts: DriftCounts | None
    merged: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Accuracy:
    value: float | None
    labelled: int


def serving_pods(pods: Sequence[Mapping[str, Any]]) -> list[ServingPod]:
    """Running, Ready, not terminating pods with an IP, sorted by name."""
    out = []
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        if meta.get("deletionTimestamp") or status.get("phase") != "Running" or not ready or not status.get("podIP"):
            continue
        out.append(ServingPod(str(meta["name"]), f"http://{_host(str(status['podIP']))}:{_port(pod)}"))
    return sorted(out, key=lambda p: p.name)


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _port(pod: Mapping[str, Any]) -> int:
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == "http" and isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    return SERVING_PORT


def merge_replicas(profile: Profile, answers: Mapping[str, bytes]) -> Replicas:
    """Parse and merge the replicas' ``/drift`` bodies (pod name -> body)."""
    good: list[DriftCounts] = []
    merged: list[str] = []
    left_out: list[tuple[str, str]] = []
    for name in sorted(answers):
        try:
            counts = DriftCounts.from_json(orjson.loads(answers[name]))
            counts.check_profile(profile)
        except (orjson.JSONDecodeError, CountsError, KeyError, TypeError, ValueError) as exc:
            left_out.append((name, f"counts refused: {exc}"))
            continue
        good.append(counts)
        merged.append(name)
    return Replicas(merge_all(good) if good else None, tuple(merged), tuple(left_out))


def feedback_accuracy(expositions: Mapping[str, str], version: str) -> Accuracy:
    """Rolling accuracy over the replicas: each replica's ``modelops_rolling_accuracy`` of
    ``version``, weighted by the labelled rows it has scored (``modelops_feedback_rows``)."""
    weighted = 0.0
    labelled = 0
    for text in expositions.values():
        accuracy: float | None = None
        rows = 0
        try:
            families = list(text_string_to_metric_families(text))
        except ValueError:
            continue
        for family in families:
            for sample in family.samples:
                if sample.labels.get("version") != version:
                    continue
                if sample.name == "modelops_rolling_accuracy" and not math.isnan(sample.value):
                    accuracy = float(sample.value)
                elif sample.name == "modelops_feedback_rows_total":
                    rows = int(sample.value)
        if accuracy is not None and rows > 0:
            weighted += accuracy * rows
            labelled += rows
    return Accuracy(weighted / labelled if labelled else None, labelled)


def concept_verdict(accuracy: Accuracy, minimum: float | None, min_samples: int) -> Verdict | None:
    """None without a ``conceptDrift``; Insufficient below ``minSamples`` labelled rows."""
    if minimum is None:
        return None
    if accuracy.value is None or accuracy.labelled < min_samples:
        return "Insufficient"
    return "Drifted" if accuracy.value < minimum else "Clean"


def listed_features(scores: Scores) -> int:
    """How many features ``lastEvaluation`` lists: the drifted ones (bounded) and the next
    TOP_LISTED nearest to drifting."""
    return min(len(scores.names), min(scores.drifted_features, MAX_DRIFTED_LISTED) + TOP_LISTED)


def summarize(
    scores: Scores, now: datetime, *, accuracy: Accuracy, concept: Verdict | None,
    accuracy_minimum: float | None, replicas: Replicas,
) -> tuple[decide.Evaluation, dict[str, Any]]:
    """The decisions' view of the scores, and ``status.lastEvaluation``."""
    drifted = [i for i in range(len(scores.names)) if scores.drifted[i]]
    worst = sorted(drifted, key=lambda i: -_ratio(scores, i))
    top = tuple(decide.FeatureDrift(scores.names[i], f.method, f.score, f.threshold)
                for i in worst[:decide.TOP_FEATURES] for f in (scores.feature(i),))
    evaluation = decide.Evaluation(
        time=now, verdict=scores.verdict, samples=scores.samples, min_samples=scores.min_samples,
        drifted_features=scores.drifted_features, n_features=len(scores.names), top=top,
        concept=concept, accuracy=accuracy.value, accuracy_minimum=accuracy_minimum,
    )
    status = scores.to_status(limit=listed_features(scores))
    status.pop("output", None)  # prediction drift: reported by the gauges only, not judged
    status.update({
        "time": now_rfc3339(now), "verdict": evaluation.combined, "dataVerdict": scores.verdict,
        "totalFeatures": len(scores.names), "requiredFeatures": scores.required_features,
        "replicas": len(replicas.merged),
        "unreachable": [name for name, _ in replicas.left_out][:MAX_UNREACHABLE_LISTED],
    })
    if concept is not None:
        status["conceptVerdict"] = concept
        status["labelledRows"] = accuracy.labelled
        if accuracy.value is not None:
            status["accuracy"] = round(accuracy.value, 6)
    return evaluation, status


def _ratio(scores: Scores, i: int) -> float:
    f = scores.feature(i)
    if f.method in LOWER_IS_DRIFT:  # a p-value: the lower, the worse
        return f.threshold / max(f.score, 1e-300)
    return f.score / max(f.threshold, 1e-300)


def job_observation(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]], name: str,
                    now: datetime) -> decide.JobObservation:
    """The Job's state and, from its latest terminated pod, the trainer's result."""
    if job is None:
        return decide.JobObservation(name, "Missing")
    status = job.get("status") or {}
    finished = {c.get("type"): c for c in status.get("conditions") or () if c.get("status") == "True"}
    if "Complete" in finished or "SuccessCriteriaMet" in finished:
        state: decide.JobState = "Succeeded"
    elif "Failed" in finished or "FailureTarget" in finished:
        state = "Failed"
    else:
        return decide.JobObservation(name, "Active")
    message, problem = _termination_message(pods)
    if message is None:
        since = _time(status.get("completionTime")) or _time((finished.get("Complete") or finished.get("Failed")
                                                              or {}).get("lastTransitionTime"))
        if since is not None and now - since < RESULT_GRACE:
            return decide.JobObservation(name, "Active")  # the pod's status is still on its way
        reason = (finished.get("Failed") or {}).get("reason")
        return decide.JobObservation(name, state, problem=", ".join(p for p in (reason, problem) if p))
    try:
        result = decode(message)
    except ValueError as exc:
        return decide.JobObservation(name, state, problem=str(exc))
    return decide.JobObservation(name, state, result=result)


def _termination_message(pods: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    terminated = []
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            state = (cs.get("state") or {}).get("terminated")
            if state is not None:
                terminated.append((str(state.get("finishedAt") or ""), state))
    if not terminated:
        return None, "no terminated trainer pod"
    state = max(terminated, key=lambda t: t[0])[1]
    message = state.get("message")
    if not message:
        return None, f"the trainer pod left no termination message (exit code {state.get('exitCode')})"
    return str(message), ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

"""The audit chain of one model, from the objects the cluster holds (pure: no I/O).

Inputs are the API's JSON: the model's ModelVersions, the ModelDeployments serving it, and
the namespace's Events. Output: every version with its lineage and validation figures, and
every rollout decision (``status.history`` of each deployment, with the Events that led to
it and their figures), oldest first; and what the cluster has *forgotten*, said in words:

- Events expire (the API server keeps them about an hour by default): a decision without an
  Event left about it has lost its figures, and says so (every decision posts one);
- ``status.history`` keeps the last ``HISTORY_KEPT`` decisions: when full, older ones are gone;
- a version named as a parent (``spec.lineage.parent`` or the artifact's) that no longer
  exists is listed as deleted, not skipped;
- a ModelDeployment's ``status.history`` names a version that no longer exists: said too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

# operator/modeldeployment keeps this many status.history entries (HISTORY_LIMIT there).
HISTORY_KEPT = 10


@dataclass(frozen=True)
class Figure:
    metric: str
    value: float | None
    limit: float | None
    bound: str | None
    verdict: str
    group: str | None = None


@dataclass(frozen=True)
class ExperimentRun:
    run_id: str
    tracking_uri: str | None = None
    experiment_id: str | None = None


@dataclass(frozen=True)
class Lineage:
    parent: str | None = None
    dataset_uri: str | None = None
    dataset_sha256: str | None = None
    estimator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    training_job: str | None = None
    drift_policy: str | None = None
    drift_evaluation: str | None = None
    training_code: dict[str, str] = field(default_factory=dict)
    experiment_run: ExperimentRun | None = None


@dataclass(frozen=True)
class Validation:
    reason: str  # ValidationPassed | ValidationFailed | ValidationError | Validating | NotRequested ...
    message: str = ""
    job: str | None = None
    completed_at: str | None = None
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Version:
    name: str
    created: str | None
    exists: bool = True
    sha256: str | None = None
    artifact_uri: str | None = None
    ready: str | None = None  # "True/Verified", "False/ValidationFailed"
    lineage: Lineage = field(default_factory=Lineage)
    validation: Validation | None = None


@dataclass(frozen=True)
class EventRecord:
    time: str
    type: str
    reason: str
    message: str
    object: str  # Kind/name


@dataclass(frozen=True)
class Decision:
    """A rollout decision of one deployment (from its status.history), with the Events about
    that deployment since the decision before it: the analysis figures that led to it."""

    time: str
    deployment: str
    version: str
    result: str  # Promoted | RolledBack | a reason of an Event after the last decision
    reason: str
    events: tuple[EventRecord, ...] = ()


@dataclass(frozen=True)
class History:
    model: str
    namespace: str
    versions: tuple[Version, ...]
    decisions: tuple[Decision, ...]
    forgotten: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _camel(self)
        return out


def chain(
    model: str,
    namespace: str,
    versions: Sequence[Mapping[str, Any]],
    deployments: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
) -> History:
    mine = [v for v in versions if (v.get("spec") or {}).get("model") == model]
    serving = sorted((d for d in deployments if (d.get("spec") or {}).get("model") == model), key=_name)
    existing = sorted((_version(v) for v in mine), key=lambda v: (v.created is None, v.created or "", v.name))
    forgotten: list[str] = []
    # Parents that no longer exist: listed as deleted just before their first child (they are
    # older, by how long is unknown), so the chain shows where it was cut.
    ordered: list[Version] = []
    names = {v.name for v in existing}
    for v in existing:
        parent = v.lineage.parent
        if parent and parent not in names:
            names.add(parent)
            ordered.append(Version(parent, None, exists=False))
            forgotten.append(f"ModelVersion {parent} (parent of {v.name}) no longer exists: its lineage, "
                             f"artifact and validation are gone from the cluster")
        ordered.append(v)
    found = {v.name: v for v in ordered}
    decisions: list[Decision] = []
    for dep in serving:
        decisions += _decisions(dep, events, forgotten, found)
    decisions.sort(key=lambda d: (d.time, d.deployment))
    for v in ordered:
        if v.exists and v.validation is not None and v.validation.completed_at is not None:
            reason = v.validation.reason
            if not any(_involves(e, "ModelVersion", v.name) and e.get("reason") == reason for e in events):
                forgotten.append(f"the {v.validation.reason} Event of {v.name} ({v.validation.completed_at}) has "
                                 f"expired; its figures are kept in the ModelVersion's status.validation")
    return History(model, namespace, tuple(ordered), tuple(decisions), tuple(forgotten))


def _decisions(
    dep: Mapping[str, Any], events: Sequence[Mapping[str, Any]], forgotten: list[str], versions: Mapping[str, Version]
) -> list[Decision]:
    name = _name(dep)
    history = list((dep.get("status") or {}).get("history") or ())
    # Oldest first; within one second (the timestamps' resolution), in the order they were written.
    mine = sorted((e for e in events if _involves(e, "ModelDeployment", name)), key=_written)
    about = [_event(e) for e in mine]
    if len(history) >= HISTORY_KEPT:
        forgotten.append(f"ModelDeployment {name} keeps its last {HISTORY_KEPT} decisions in status.history: "
                         f"any before {history[0].get('at')} are gone")
    out: list[Decision] = []
    used: set[int] = set()
    for entry in history:
        at = str(entry.get("at") or "")
        version = str(entry.get("version") or "")
        # The Events that led here: not yet claimed, no later than the decision, about this
        # version (timestamps have one-second resolution, so time alone cannot tell two apart).
        led = []
        for i, e in enumerate(about):
            if i not in used and e.time <= at and _version_in(e.message, versions) in (version, ""):
                used.add(i)
                led.append(e)
        if not led:
            forgotten.append(f"the Events of {name}'s decision at {at} ({entry.get('result')} {version}) have "
                             f"expired (an API server keeps Events about an hour): only its result and reason remain")
        if version and version not in versions:
            forgotten.append(f"ModelVersion {version} ({entry.get('result')} by {name} at {at}) no longer exists")
        out.append(Decision(at, name, version, str(entry.get("result") or ""), str(entry.get("reason") or ""),
                            tuple(led)))
    # Decisions under way (a rollout started, an analysis step): Events no decision claimed.
    for i, e in enumerate(about):
        if i not in used:
            out.append(Decision(e.time, name, _version_in(e.message, versions), e.reason, e.message, (e,)))
    return out


def _version(obj: Mapping[str, Any]) -> Version:
    spec: Mapping[str, Any] = obj.get("spec") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    artifact: Mapping[str, Any] = spec.get("artifact") or {}
    return Version(
        name=_name(obj),
        created=(obj.get("metadata") or {}).get("creationTimestamp"),
        sha256=artifact.get("sha256"),
        artifact_uri=artifact.get("uri"),
        ready=_condition(status, "Ready"),
        lineage=_lineage(spec.get("lineage") or {}, (status.get("artifact") or {}).get("lineage") or {}),
        validation=_validation(spec, status),
    )


def _lineage(spec: Mapping[str, Any], artifact: Mapping[str, Any]) -> Lineage:
    """spec.lineage (what the cluster says) first, the artifact's metadata.json for the rest."""

    def pick(key: str) -> str | None:
        value = spec.get(key) or artifact.get(key)
        return None if value is None else str(value)

    params: dict[str, Any] = {}
    for k, text in (artifact.get("params") or {}).items():
        try:
            params[k] = json.loads(text)
        except (TypeError, ValueError):
            params[k] = text
    run = artifact.get("experimentRun") or {}
    return Lineage(
        parent=pick("parent"),
        dataset_uri=pick("datasetUri"),
        dataset_sha256=pick("datasetSha256"),
        estimator=artifact.get("estimator"),
        params=params,
        training_job=pick("job"),
        drift_policy=pick("driftPolicy"),
        drift_evaluation=pick("driftEvaluation"),
        training_code=dict(artifact.get("trainingCode") or {}),
        experiment_run=ExperimentRun(str(run["runId"]), run.get("trackingUri"), run.get("experimentId"))
        if run.get("runId") else None,
    )


def _validation(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Validation | None:
    if not spec.get("validation"):
        return None
    cond = next((c for c in status.get("conditions") or () if c.get("type") == "Validated"), None) or {}
    recorded: Mapping[str, Any] = status.get("validation") or {}
    figures = tuple(
        Figure(str(r.get("metric")), r.get("value"), r.get("limit"), r.get("bound"), str(r.get("verdict")),
               r.get("group"))
        for r in recorded.get("results") or ()
    )
    return Validation(str(cond.get("reason") or "ValidationPending"), str(cond.get("message") or ""),
                      recorded.get("job"), recorded.get("completedAt"), figures)


def _condition(status: Mapping[str, Any], type_: str) -> str | None:
    cond = next((c for c in status.get("conditions") or () if c.get("type") == type_), None)
    return None if cond is None else f"{cond.get('status')}/{cond.get('reason')}"


def _event(e: Mapping[str, Any]) -> EventRecord:
    involved = e.get("involvedObject") or {}
    time = e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or \
        (e.get("metadata") or {}).get("creationTimestamp") or ""
    return EventRecord(str(time)[:19] + "Z" if len(str(time)) > 20 else str(time), str(e.get("type") or ""),
                       str(e.get("reason") or ""), str(e.get("message") or e.get("note") or ""),
                       f"{involved.get('kind')}/{involved.get('name')}")


def _written(e: Mapping[str, Any]) -> tuple[str, int]:
    version = str((e.get("metadata") or {}).get("resourceVersion") or "")
    return _event(e).time, int(version) if version.isdigit() else 0


def _involves(e: Mapping[str, Any], kind: str, name: str) -> bool:
    involved = e.get("involvedObject") or e.get("regarding") or {}
    return bool(involved.get("kind") == kind and involved.get("name") == name)


def _version_in(message: str, versions: Mapping[str, Version]) -> str:
    """The first version an Event's message names ("rolling out v2 next to v1": v2), or ''."""
    for word in message.replace(":", " ").replace(";", " ").replace(",", " ").split():
        if word in versions:
            return word
    return ""


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _camel(value: Any) -> Any:
    """Dataclasses as JSON with camelCase field names; dict keys (params) as they are."""
    if is_dataclass(value) and not isinstance(value, type):
        pairs = ((f.name, getattr(value, f.name)) for f in fields(value))
        return {_to_camel(k): _camel(v) for k, v in pairs if v is not None}
    if isinstance(value, dict):
        return {k: _camel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_camel(v) for v in value]
    return value


def _to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)

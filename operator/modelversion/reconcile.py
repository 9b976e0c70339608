"""ModelVersion decisions: whether to verify the artifact, and the status a verification yields.

Two pure steps around one piece of I/O: ``decide`` looks at the object and either answers
right away (invalid spec, an untrusted pickle refused without downloading it, nothing new
to do) or asks for a verification; ``conclude`` turns the verification's outcome into the
status. A spec is immutable, so an artifact is verified once per generation; a failure that
waiting may fix (the artifact not reachable yet) is retried with backoff, one that only a
new ModelVersion fixes (a digest mismatch) is not, unless ``modelops.dev/action: retry`` asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelops.api.modelversion import ModelVersionSpec
from modelops.conditions import Desired, find, first_outcome, merge, transitions
from modelops.operator.modelversion.validation import is_final
from modelops.operator.plans import ACTION_ANNOTATION, Event, EventType, Plan, describe_validation_error

# Failures that may go away by themselves (an upload not finished, a server down or slow).
TRANSIENT_REASONS = frozenset({"ArtifactNotFound", "ArtifactUnreachable"})
ANNOUNCED = ("ArtifactVerified", "Ready")


@dataclass(frozen=True)
class Verify:
    """The artifact must be inspected (manifest and metadata only)."""

    uri: str
    sha256: str
    allow_version_skew: bool
    format: str = "skops"
    trusted: bool = False
    # First visit of a generation: the status saying so (Unknown, Verifying), written only when
    # the inspection does not conclude at once; an artifact inspected in milliseconds gets its
    # verdict as its first status (one write, not two).
    announce: Plan | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Validate:
    """The artifact is verified and spec.validation is declared but not concluded: observe the
    validation Job (and the champion) and take the next step (``validation.step``)."""

    model: str


@dataclass(frozen=True)
class Outcome:
    """What inspecting the artifact found: a status.artifact summary, or a failure reason."""

    summary: Mapping[str, Any] | None = None
    reason: str | None = None
    message: str = ""

    @property
    def verified(self) -> bool:
        return self.summary is not None


def decide(obj: Mapping[str, Any], now: datetime) -> Plan | Verify | Validate:
    meta = obj.get("metadata") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    generation = meta.get("generation")
    retry = (meta.get("annotations") or {}).get(ACTION_ANNOTATION) == "retry"
    try:
        spec = ModelVersionSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        message = describe_validation_error(exc)
        return _failed(status, None, "InvalidSpec", message, generation=generation, now=now, retry=retry)
    if spec.artifact.format == "joblib" and not spec.artifact.trusted:
        # Refused before any download: loading a pickle runs whatever code it contains.
        message = (
            f"format joblib (pickle) runs code when loaded; set spec.artifact.trusted: true only if "
            f"you trust {spec.artifact.uri}, or package the model as skops"
        )
        return _failed(status, spec, "UntrustedFormat", message, generation=generation, now=now, retry=retry)
    verified = find(status.get("conditions"), "ArtifactVerified")
    settled = (
        verified is not None
        and status.get("observedGeneration") == generation
        and verified.get("observedGeneration") == generation
        and (verified.get("status") == "True"
             or (verified.get("status") == "False" and verified.get("reason") not in TRANSIENT_REASONS))
    )
    if settled and not retry:
        # Validation only ever follows a verified artifact, and runs until it has concluded.
        if (spec.validation is not None and verified is not None and verified.get("status") == "True"
                and not is_final(status, generation)):
            return Validate(spec.model)
        return Plan(status=dict(status))
    announce = None
    if verified is None or verified.get("observedGeneration") != generation:
        # First visit of this generation: Unknown while the download runs, unless it concludes at once.
        message = f"inspecting manifest.json and metadata.json of {spec.artifact.uri}"
        conditions = merge(
            status.get("conditions"),
            [Desired("ArtifactVerified", "Unknown", "Verifying", message), _validated(spec),
             Desired("Ready", "Unknown", "Verifying", message)],
            generation, now,
        )
        announce = Plan(status={**status, "observedGeneration": generation, "conditions": conditions}, retry=True)
    return Verify(
        spec.artifact.uri, spec.artifact.sha256, spec.allow_version_skew, spec.artifact.format, spec.artifact.trusted,
        announce=announce,
    )


def conclude(obj: Mapping[str, Any], outcome: Outcome, now: datetime) -> Plan:
    meta = obj.get("metadata") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    generation = meta.get("generation")
    retry = (meta.get("annotations") or {}).get(ACTION_ANNOTATION) == "retry"
    spec = ModelVersionSpec.model_validate(obj.get("spec") or {})
    if outcome.summary is None:
        reason = outcome.reason or "InvalidArtifact"
        return _failed(status, spec, reason, outcome.message, generation=generation, now=now, retry=retry)
    summary = _summary(outcome.summary)
    figures = (
        f"manifest sha256 {spec.artifact.sha256[:12]}… verified: {summary.get('files', 0)} files, "
        f"{summary.get('sizeBytes', 0)} bytes; {len(summary.get('features') or ())} features, "
        f"task {summary.get('task') or 'unknown'}"
    )
    validated = _validated(spec)
    ready = (
        Desired("Ready", "True", "Verified", figures)
        if validated.status != "False" and spec.validation is None
        else Desired("Ready", "False", validated.reason, validated.message)
    )
    conditions = merge(
        status.get("conditions"),
        [
            Desired("ArtifactVerified", "True", "Verified", figures),
            validated,
            ready,
            Desired("Stalled", "False", "Verified"),
        ],
        generation, now,
    )
    new_status = {**status, "observedGeneration": generation, "conditions": conditions, "artifact": summary}
    events = _events(status.get("conditions"), conditions)
    if retry:
        events.insert(0, Event("Normal", "RetryRequested", f"{ACTION_ANNOTATION}=retry: artifact verified again"))
    # Declared validation: the next reconcile (right away) starts or reads the validation Job.
    requeue = 0.0 if spec.validation is not None else None
    return Plan(status=new_status, events=tuple(events), remove_action=retry, requeue_after=requeue)


def _summary(raw: Mapping[str, Any]) -> dict[str, Any]:
    """status.artifact in the schema's types: class labels as strings, metrics without gaps."""
    out = {k: v for k, v in raw.items() if v is not None}
    if "classes" in out:
        out["classes"] = [str(c) for c in out["classes"]]
    if "offlineMetrics" in out:
        out["offlineMetrics"] = {k: float(v) for k, v in out["offlineMetrics"].items() if v is not None}
    if "frameworkVersions" in out:
        out["frameworkVersions"] = {k: str(v) for k, v in out["frameworkVersions"].items() if v is not None}
    return out


def _validated(spec: ModelVersionSpec | None) -> Desired:
    if spec is None or spec.validation is None:
        return Desired("Validated", "Unknown", "NotRequested", "no validation declared in spec.validation")
    return Desired(
        "Validated", "Unknown", "ValidationPending",
        "spec.validation is declared: the validation Job runs once the artifact is verified; not Ready until it passes",
    )


def _failed(
    status: Mapping[str, Any],
    spec: ModelVersionSpec | None,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
    retry: bool,
) -> Plan:
    transient = reason in TRANSIENT_REASONS
    shown = f"{message}; retrying with backoff" if transient else message
    conditions = merge(
        status.get("conditions"),
        [
            Desired("ArtifactVerified", "False", reason, shown),
            _validated(spec),
            Desired("Ready", "False", reason, shown),
            # kstatus (Flux): a failure only a new ModelVersion (or a retry) fixes is Stalled.
            Desired("Stalled", "False" if transient else "True", reason, shown),
        ],
        generation,
        now,
    )
    new_status = {k: v for k, v in status.items() if k != "artifact"}
    new_status.update(observedGeneration=generation, conditions=conditions)
    events = _events(status.get("conditions"), conditions)
    if retry:
        events.insert(0, Event("Normal", "RetryRequested", f"{ACTION_ANNOTATION}=retry: {reason} again"))
    return Plan(status=new_status, events=tuple(events), retry=transient, remove_action=retry)


def _events(before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]]) -> list[Event]:
    out = []
    for _old, new in transitions([dict(c) for c in before or ()], [dict(c) for c in after]):
        if new.get("type") in ANNOUNCED:
            # Waiting for a declared validation is the normal course, not a warning.
            normal = new.get("status") == "True" or new.get("reason") == "ValidationPending"
            if normal and first_outcome(_old):
                continue  # a first verdict that is good news is in the status (conditions.first_outcome)
            kind: EventType = "Normal" if normal else "Warning"
            out.append(Event(kind, str(new.get("reason")), f"{new['type']}={new['status']}: {new.get('message', '')}"))
    return out

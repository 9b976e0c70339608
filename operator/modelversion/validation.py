"""ModelVersion validation: the Job that runs ``modelops validate``, and the status its result yields.

Pure, like ``reconcile``: ``sync`` observes (the Job, its pods, the champion) and hands them
in; this module returns the Job to create and the Plan. Order of a version's life:

1. the artifact is verified (``ArtifactVerified=True``); never validated before that;
2. ``job_manifest``: a batch/v1 Job owned by the ModelVersion (controller reference, so the
   ownership rule applies: an object of that name controlled by anything else is a
   ``NameConflict``, never adopted), named deterministically (``job_name``), same image as
   the serving pods, no service-account token, ``restartPolicy: Never``, a small
   ``backoffLimit`` (``modelops validate`` exits 1 only for a failure a rerun may cure);
3. ``step``: while the Job runs, ``Validated=Unknown/Validating``; when it has finished, its
   newest pod's termination message (the result JSON of ``modelops.validation.outcome``)
   becomes ``Validated`` and ``status.validation`` (written through ``ValidationStatus``).
   ``Ready`` requires ``Validated=True``. A Job that failed without a readable message is a
   ``ValidationError`` saying so (with the log tail, ``FallbackToLogsOnError``).

The champion (``championComparison``) is the stable version of the ModelDeployments serving
this model, fixed when the Job is made (its args cannot change afterwards).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError as PydanticError

from modelops import API_VERSION
from modelops.api.modelversion import ModelVersionSpec, ValidationResult, ValidationStatus
from modelops.conditions import Desired, find, merge, now_rfc3339, transitions
from modelops.operator import jobs
from modelops.operator.plans import Event, EventType, Plan

MAX_NAME = 63  # the Job's pods carry job-name=<name>: a label value
HASH_DIGITS = 8
SUFFIX = "-validate"
BACKOFF_LIMIT = 2
ACTIVE_DEADLINE_S = 3600
POLL_S = 15.0  # while the Job runs: a safety net besides the Job watch
TERMINATION_LOG = jobs.TERMINATION_LOG
COMPONENT = "validation"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "modelops"
MODEL_LABEL = "modelops.dev/model"
VERSION_LABEL = "modelops.dev/version"
CHAMPION_ANNOTATION = "modelops.dev/champion"
REPORT_SUFFIX = ".validation.json"
FIGURES_SHOWN = 8  # in a condition message or an Event; status.validation has them all
# The reasons of a finished validation: Validated says them, Ready repeats them when not True.
# (A NameConflict is not final: it is looked at again with backoff until the Job is gone.)
FINAL_REASONS = frozenset({"ValidationPassed", "ValidationFailed", "ValidationError"})

JobState = Literal["Missing", "Active", "Complete", "Failed"]


@dataclass(frozen=True)
class Champion:
    """The stable version of a deployment serving this model, whose artifact is compared against."""

    name: str
    uri: str
    sha256: str
    trusted: bool = False


@dataclass(frozen=True)
class ObservedJob:
    """The validation Job as listed, and what its pods said."""

    state: JobState
    name: str
    controller_uid: str | None = None  # of the Job's controller reference
    # The newest finished pod's termination message (raw text), and its exit code.
    message: str | None = None
    exit_code: int | None = None
    failure: str = ""  # the Job's Failed condition, "reason: message"
    completed_at: str | None = None


def job_name(version: str) -> str:
    """``<version>-validate``, or cut and suffixed with a hash of the version's name when too long."""
    readable = f"{version}{SUFFIX}"
    if len(readable) <= MAX_NAME:
        return readable
    digest = hashlib.sha256(version.encode()).hexdigest()[:HASH_DIGITS]
    return f"{version[: MAX_NAME - len(SUFFIX) - HASH_DIGITS - 1].rstrip('-')}-{digest}{SUFFIX}"


def report_uri(artifact_uri: str, version: str) -> str:
    """Beside the artifact directory and per ModelVersion (two versions of one artifact with
    different limits must not overwrite each other's report); never inside the artifact."""
    return f"{artifact_uri.rstrip('/')}.{version}{REPORT_SUFFIX}"


def labels(spec: ModelVersionSpec, version: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "modelops-validation",
        COMPONENT_LABEL: COMPONENT,
        MANAGED_BY_LABEL: MANAGER,
        MODEL_LABEL: spec.model,
        VERSION_LABEL: version,
    }


def validate_args(spec: ModelVersionSpec, version: str, champion: Champion | None) -> list[str]:
    assert spec.validation is not None
    args = [
        "validate",
        "--artifact-uri", spec.artifact.uri,
        "--sha256", spec.artifact.sha256,
        "--spec", json.dumps(spec.validation.model_dump(mode="json", by_alias=True, exclude_none=True),
                             sort_keys=True, separators=(",", ":")),
        "--report-uri", report_uri(spec.artifact.uri, version),
        "--termination-log", TERMINATION_LOG,
    ]  # fmt: skip
    if spec.artifact.trusted:
        args.append("--trusted")
    if spec.allow_version_skew:
        args.append("--allow-version-skew")
    if champion is not None:
        args += ["--champion-uri", champion.uri, "--champion-sha256", champion.sha256]
        if champion.trusted:
            args.append("--champion-trusted")
    return args


def job_manifest(
    obj: Mapping[str, Any], spec: ModelVersionSpec, champion: Champion | None, image: str
) -> dict[str, Any]:
    """The batch/v1 Job validating one ModelVersion (see the module docstring)."""
    meta = obj.get("metadata") or {}
    name, namespace = str(meta["name"]), str(meta["namespace"])
    job_labels = labels(spec, name)
    annotations = {CHAMPION_ANNOTATION: champion.name} if champion is not None else {}
    metadata = {
        "name": job_name(name),
        "namespace": namespace,
        "labels": job_labels,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": API_VERSION, "kind": "ModelVersion", "name": name, "uid": str(meta.get("uid")),
            "controller": True, "blockOwnerDeletion": True,
        }],
    }
    # A crash before the result is written still tells why: the end of the log.
    return jobs.job_manifest(
        metadata, container="validate", image=image, args=validate_args(spec, name, champion),
        backoff_limit=BACKOFF_LIMIT, termination_policy="FallbackToLogsOnError", active_deadline_s=ACTIVE_DEADLINE_S,
    )


def observe_job(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]], name: str) -> ObservedJob:
    """The Job's state and its newest finished pod's termination message (pure: from listed objects)."""
    if job is None:
        return ObservedJob("Missing", name)
    owner = next((str(r.get("uid")) for r in (job.get("metadata") or {}).get("ownerReferences") or ()
                  if r.get("controller") is True), None)
    status = job.get("status") or {}
    state: JobState = "Active"
    failure, completed = "", None
    for cond in status.get("conditions") or ():
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            state, completed = "Complete", cond.get("lastTransitionTime") or status.get("completionTime")
        elif cond.get("type") == "Failed":
            state, completed = "Failed", cond.get("lastTransitionTime")
            failure = f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")
    message, code, newest = None, None, ""
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            term = (cs.get("state") or {}).get("terminated")
            if cs.get("name") != "validate" or not term:
                continue
            at = str(term.get("finishedAt") or (pod.get("metadata") or {}).get("creationTimestamp") or "")
            if at >= newest:
                newest, message, code = at, term.get("message"), term.get("exitCode")
    return ObservedJob(state, str((job.get("metadata") or {}).get("name", name)), owner, message, code, failure,
                       completed)


@dataclass(frozen=True)
class Verdict:
    """What a finished Job said: the Validated condition and the figures."""

    reason: str
    message: str
    results: tuple[ValidationResult, ...] = ()
    report: str | None = None


def read_result(observed: ObservedJob) -> Verdict:
    """The verdict of a finished Job, from its termination message; ValidationError when there
    is none to read (naming the Job and what it left instead)."""
    text = (observed.message or "").strip()
    parsed: Any = None
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict) and parsed.get("reason") in ("ValidationPassed", "ValidationFailed", "ValidationError"):
        try:
            results = tuple(ValidationResult.model_validate(r) for r in parsed.get("results") or ())
        except PydanticError as exc:
            return Verdict("ValidationError", f"Job {observed.name} wrote results this operator cannot read: {exc}")
        message = str(parsed.get("message") or "")
        omitted = parsed.get("omitted") or {}
        if omitted:
            message += " (" + ", ".join(f"{n} {k} figures omitted" for k, n in sorted(omitted.items())) + \
                " from the termination message; see the report)"
        if observed.state == "Failed" and parsed["reason"] == "ValidationError":
            message += f"; Job {observed.name} gave up after {BACKOFF_LIMIT + 1} attempts"
        report = parsed.get("report")
        return Verdict(str(parsed["reason"]), message, results, str(report) if report else None)
    what = f"its last pod's message was: {text[-400:]}" if text else "its pods left no termination message"
    if observed.state == "Failed":
        why = f" ({observed.failure})" if observed.failure else ""
        return Verdict("ValidationError", f"validation Job {observed.name} failed{why} and left no result; {what}")
    return Verdict("ValidationError", f"validation Job {observed.name} completed without a result; {what}")


def is_final(status: Mapping[str, Any], generation: int | None) -> bool:
    validated = find(status.get("conditions"), "Validated")
    return (
        validated is not None
        and validated.get("observedGeneration") == generation
        and validated.get("status") in ("True", "False")
        and validated.get("reason") in FINAL_REASONS
    )


@dataclass(frozen=True)
class Step:
    """One validation step: the Job to create (if any) and the Plan."""

    plan: Plan
    create: Mapping[str, Any] | None = None


def step(
    obj: Mapping[str, Any],
    observed: ObservedJob,
    champion: Champion | None,
    image: str,
    now: datetime,
) -> Step:
    """The next validation step of a verified ModelVersion that declares spec.validation."""
    meta = obj.get("metadata") or {}
    spec = ModelVersionSpec.model_validate(obj.get("spec") or {})
    assert spec.validation is not None, "step() is only for versions that declare spec.validation"
    name = job_name(str(meta["name"]))
    if observed.state != "Missing" and observed.controller_uid != str(meta.get("uid")):
        who = (f"controlled by uid {observed.controller_uid}" if observed.controller_uid
               else "controlled by no owner")
        message = (f"Job {meta.get('namespace')}/{name} already exists and is {who}, not this ModelVersion: it is "
                   f"left alone; delete it to let validation run")
        plan = _final(obj, "NameConflict", message, None, now)
        return Step(Plan(status=plan.status, events=plan.events, retry=True))
    if observed.state == "Missing":
        job = job_manifest(obj, spec, champion, image)
        against = f" against champion {champion.name}" if champion else ""
        skipped = ""
        if spec.validation.champion_comparison and not champion:
            skipped = f" (no deployment of model {spec.model} has a stable version: championComparison skipped)"
        message = f"validation Job {name} started{against}{skipped}"
        started = Event("Normal", "ValidationStarted", f"{message}; holdout {spec.validation.holdout_uri}")
        plan = _progress(obj, "Validating", message, ValidationStatus(job=name), now, events=(started,))
        return Step(plan, job)
    if observed.state == "Active":
        message = f"validation Job {name} is running"
        return Step(_progress(obj, "Validating", message, ValidationStatus(job=name), now))
    verdict = read_result(observed)
    completed = observed.completed_at or now_rfc3339(now)
    validation = ValidationStatus(results=list(verdict.results), job=name, completed_at=completed)
    return Step(_final(obj, verdict.reason, verdict.message, validation, now, report=verdict.report))


def _dump(validation: ValidationStatus) -> dict[str, Any]:
    return validation.model_dump(mode="json", by_alias=True, exclude_none=True)


def _progress(
    obj: Mapping[str, Any], reason: str, message: str, validation: ValidationStatus, now: datetime, *,
    events: tuple[Event, ...] = (),
) -> Plan:
    status: Mapping[str, Any] = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    conditions = merge(
        status.get("conditions"),
        [Desired("Validated", "Unknown", reason, message), Desired("Ready", "False", reason, message)],
        generation, now,
    )
    new_status = {**status, "observedGeneration": generation, "conditions": conditions,
                  "validation": _dump(validation)}
    return Plan(status=new_status, events=events, requeue_after=POLL_S)


def describe_figures(results: Sequence[ValidationResult], limit: int = FIGURES_SHOWN) -> str:
    """``roc_auc=0.86 (min 0.8) Pass; recall[gender=F]=0.41 (min 0.5) Fail``, failing ones first."""
    ordered = sorted(results, key=lambda r: r.verdict != "Fail")
    parts = []
    for r in ordered[:limit]:
        where = f"[{r.group}]" if r.group else ""
        value = "n/a" if r.value is None else f"{r.value:.4g}"
        bound = "" if r.limit is None else f" ({r.bound or 'limit'} {r.limit:.4g})"
        parts.append(f"{r.metric}{where}={value}{bound} {r.verdict}")
    more = f"; and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return "; ".join(parts) + more


def _final(
    obj: Mapping[str, Any], reason: str, message: str, validation: ValidationStatus | None, now: datetime, *,
    report: str | None = None,
) -> Plan:
    status: Mapping[str, Any] = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    passed = reason == "ValidationPassed"
    results = validation.results if validation is not None else []
    figures = describe_figures(results)
    shown = f"{message}; figures: {figures}" if figures else message
    ready_message = (_condition_message(status, "ArtifactVerified") + f"; validation passed: {message}"
                     if passed else shown)
    conditions = merge(
        status.get("conditions"),
        [
            Desired("Validated", "True" if passed else "False", reason, shown),
            Desired("Ready", "True" if passed else "False", "ValidationPassed" if passed else reason, ready_message),
            # kstatus: a failed validation is final until a new ModelVersion (or the Job deleted).
            Desired("Stalled", "False" if passed else "True", reason, shown),
        ],
        generation, now,
    )
    new_status: dict[str, Any] = {**status, "observedGeneration": generation, "conditions": conditions}
    if validation is not None:
        new_status["validation"] = _dump(validation)
    events = []
    for _old, new in transitions(status.get("conditions"), conditions):
        if new.get("type") == "Validated":
            kind: EventType = "Normal" if passed else "Warning"
            where = f"; report {report}" if report else ""
            events.append(Event(kind, reason, f"Validated={new['status']}: {shown}{where}"))
        elif new.get("type") == "Ready" and passed:
            events.append(Event("Normal", "Ready", f"Ready=True: {ready_message}"))
    return Plan(status=new_status, events=tuple(events))


def _condition_message(status: Mapping[str, Any], type_: str) -> str:
    cond = find(status.get("conditions"), type_)
    return str((cond or {}).get("message") or "artifact verified")


def champion(deployments: Sequence[Mapping[str, Any]], model: str, version: str) -> Champion | None:
    """The stable version of the ModelDeployments serving ``model`` (the first by name when
    several serve it), as its pods fetch it (``status.pinned``); None when nothing serves it
    yet, or when it is this very version."""
    for dep in sorted(deployments, key=lambda d: str((d.get("metadata") or {}).get("name", ""))):
        if (dep.get("spec") or {}).get("model") != model:
            continue
        status = dep.get("status") or {}
        stable = status.get("stable")
        if not stable or stable == version:
            continue
        for pin in status.get("pinned") or ():
            if pin.get("version") == stable and pin.get("uri") and pin.get("sha256"):
                return Champion(str(stable), str(pin["uri"]), str(pin["sha256"]), bool(pin.get("trusted")))
    return None

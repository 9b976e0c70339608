"""One DriftPolicy reconcile: read the policy, its target and the stable version; every
``interval`` scrape and score the stable replicas; look at the running retrain's Job; let
``decide`` choose; then write in an order a crash cannot harm: the Job (or the ModelVersion)
first, then the one status patch, then the action annotation and the Events.

The reference profile is read through the artifact's source (blocking I/O, in a thread) and
cached per digest; the replicas are scraped with per-pod timeouts and one deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from modelops.api.common import parse_duration
from modelops.api.driftpolicy import DriftPolicySpec, DriftPolicyStatus
from modelops.artifact.errors import ArtifactError
from modelops.conditions import Desired, find, merge, transitions
from modelops.drift.counts import CountsError
from modelops.drift.evaluation import evaluate
from modelops.drift.profile_format import ProfileError
from modelops.drift.settings import DriftSettings, SettingsError
from modelops.operator import kube, metrics
from modelops.operator.context import Context
from modelops.operator.driftpolicy import decide, jobs, observe
from modelops.operator.driftpolicy.reference import ReferenceProfiles
from modelops.operator.driftpolicy.scrape import ScrapeLimits, scrape
from modelops.operator.modeldeployment.children import INSTANCE_LABEL, VERSION_LABEL
from modelops.operator.ownership import controller_uid, describe_conflict
from modelops.operator.plans import ACTION_ANNOTATION, Event, EventType, Plan, describe_validation_error
from modelops.operator.writing import carry_out

log = logging.getLogger(__name__)

# Immutable artifacts: one read per digest per process, whichever worker asks.
PROFILES = ReferenceProfiles()
LIMITS = ScrapeLimits()
# While a retrain runs, look at its Job at least this often (its watch events wake us sooner).
RETRAIN_POLL_S = 10.0
MAX_MESSAGE = 4096  # status.lastRetrain.message's bound in the CRD


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str


@dataclass(frozen=True)
class Evaluated:
    evaluation: decide.Evaluation
    status: dict[str, Any]
    scores: list[tuple[str, str, float]]


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.DRIFT_POLICIES, namespace, name)
    if obj is None:
        metrics.forget_policy(namespace, name)
        return None
    obj.setdefault("kind", kube.DRIFT_POLICIES.kind)
    now = ctx.clock()
    meta = obj["metadata"]
    old = dict(obj.get("status") or {})
    generation = meta.get("generation")
    manual = (meta.get("annotations") or {}).get(ACTION_ANNOTATION) == decide.RETRAIN_ACTION
    try:
        spec = DriftPolicySpec.model_validate(obj.get("spec") or {})
        settings = DriftSettings.from_spec(spec.model_dump(by_alias=True))
        if spec.retrain is not None and spec.retrain.trainer is None and spec.retrain.job_template is None:
            raise SettingsError("spec.retrain needs trainer or jobTemplate")
    except (ValidationError, SettingsError) as exc:
        message = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        plan = _plan(obj, old, [Desired("Ready", "False", "InvalidSpec", message)], {}, now, manual=manual)
        await carry_out(ctx, kube.DRIFT_POLICIES, obj, plan)
        return plan

    state = decide.status_from(old)
    retrain = spec.retrain
    policy = decide.PolicySpec(
        name=name, consecutive=spec.consecutive, suspend=spec.suspend,
        retrain_enabled=retrain is not None and retrain.enabled,
        cooldown=parse_duration(retrain.cooldown) if retrain is not None else timedelta(0),
        generation=generation,
    )
    interval = parse_duration(spec.interval)
    ready: Desired
    attempted = False  # an evaluation was due (whether or not it could be made)
    evaluated: Evaluated | None = None
    champion: jobs.Champion | None = None
    if spec.suspend:
        ready = Desired("Ready", "True", "Suspended", "suspend: true: drift is not evaluated and no retrain starts")
    else:
        found = await _stable(ctx, namespace, spec)
        if isinstance(found, Problem):
            ready = Desired("Ready", "False", found.reason, found.message)
        else:
            target, champion = found
            if _due(old, interval, now):
                attempted = True
                outcome = await _evaluate(ctx, namespace, spec, settings, target=target, champion=champion, now=now)
                if isinstance(outcome, Problem):
                    ready = Desired("Ready", "False", outcome.reason, outcome.message)
                else:
                    evaluated = outcome
                    ready = Desired("Ready", "True", "Evaluated", _evaluated_message(outcome.status, champion))
            else:
                kept = find(old.get("conditions"), "Ready")
                ready = (Desired("Ready", kept["status"], kept["reason"], kept.get("message", "")) if kept
                         else Desired("Ready", "Unknown", "Waiting", "first evaluation pending"))

    events: list[Event] = []
    if manual and champion is None:
        # Nothing to train against: refuse, and act on the annotation once as always.
        why = ready.message if not spec.suspend else "the policy is suspended"
        events.append(Event("Warning", "RetrainRefused", f"modelops.dev/action=retrain: {why}"))
        manual_now = False
    else:
        manual_now = manual

    job_seen: decide.JobObservation | None = None
    last = state.last_retrain
    if last is not None and last.running:
        job_seen = await _observe_job(ctx, namespace, last.job, str(meta.get("uid")), now)

    decision = decide.decide(policy, state, now=now, evaluation=evaluated.evaluation if evaluated else None,
                             job=job_seen, manual_retrain=manual_now, parent=champion.name if champion else None)
    if decision.job is not None and champion is not None and retrain is not None:
        refused = await _create_job(ctx, obj, spec, decision.job, champion)
        if refused is not None:
            decision = decide.decide(policy, decision.status, now=now,
                                     job=decide.JobObservation(decision.job.name, "Failed", problem=refused),
                                     parent=champion.name)
            decision = replace(decision, remove_action=manual, events=(*events, *decision.events))
    if decision.model_version is not None:
        await _create_version(ctx, namespace, decision.model_version, champion.model if champion else "",
                              champion.validation if champion else None)

    fields = decide.status_fields(decision.status)
    if "lastRetrain" in fields and len(fields["lastRetrain"].get("message", "")) > MAX_MESSAGE:
        fields["lastRetrain"]["message"] = fields["lastRetrain"]["message"][: MAX_MESSAGE - 1] + "…"
    if evaluated is not None:
        fields["lastEvaluation"] = evaluated.status
        metrics.drift_scores(namespace, name, evaluated.scores)
    metrics.drift_detected(namespace, name, decision.status.drift.detected)
    requeue = _requeue(old, fields, interval, now, suspended=spec.suspend, state=decision.status,
                       failed=attempted and evaluated is None)
    plan = _plan(obj, old, [ready, *decision.conditions], fields, now, manual=manual or decision.remove_action,
                 events=[*events, *decision.events], requeue=requeue)
    await carry_out(ctx, kube.DRIFT_POLICIES, obj, plan)
    return plan


# Not-Ready reasons that are a wait, not a fault: a policy applied with its deployment waits
# for the first rollout (Normal Events, as on any first apply), it does not warn.
WAITING = frozenset({"NoStableVersion"})


def _plan(obj: Mapping[str, Any], old: Mapping[str, Any], desired: Sequence[Desired], fields: Mapping[str, Any],
          now: datetime, *, manual: bool, events: Sequence[Event] = (), requeue: float | None = None) -> Plan:
    generation = (obj.get("metadata") or {}).get("generation")
    conditions = merge(old.get("conditions"), desired, generation, now)
    status = {**{k: v for k, v in old.items() if v is not None}, **fields,
              "observedGeneration": generation, "conditions": conditions}
    DriftPolicyStatus.model_validate(status)  # the schema and the writer agree, or this reconcile fails loudly
    announced = list(events)
    for before, after in transitions(old.get("conditions"), conditions):
        if after["type"] == "Ready" and (before is not None or after["status"] != "True"):
            kind: EventType = "Normal" if after["status"] == "True" or after["reason"] in WAITING else "Warning"
            announced.append(Event(kind, str(after["reason"]), str(after.get("message", ""))))
    return Plan(status=status, events=tuple(announced), remove_action=manual, requeue_after=requeue)


def _due(old: Mapping[str, Any], interval: timedelta, now: datetime) -> bool:
    last = observe._time((old.get("lastEvaluation") or {}).get("time"))
    return last is None or now - last >= interval


def _requeue(old: Mapping[str, Any], fields: Mapping[str, Any], interval: timedelta, now: datetime, *,
             suspended: bool, state: decide.PolicyStatus, failed: bool) -> float | None:
    """When to look again: at the next evaluation; a whole interval after one that could not be
    made (no replica, no reference: not a hot loop); sooner while a retrain runs."""
    if suspended:
        return None
    last = observe._time((fields.get("lastEvaluation") or old.get("lastEvaluation") or {}).get("time"))
    wait = interval.total_seconds() if failed or last is None else max(0.05, (last + interval - now).total_seconds())
    if state.last_retrain is not None and state.last_retrain.running:
        wait = min(wait, RETRAIN_POLL_S)
    return wait


async def _stable(ctx: Context, namespace: str, spec: DriftPolicySpec
                  ) -> tuple[Mapping[str, Any], jobs.Champion] | Problem:
    target = spec.target_ref.name
    mdep = await ctx.kube.get(kube.MODEL_DEPLOYMENTS, namespace, target)
    if mdep is None:
        return Problem("TargetNotFound", f"ModelDeployment {namespace}/{target} does not exist")
    stable = (mdep.get("status") or {}).get("stable")
    if not stable:
        return Problem("NoStableVersion", f"ModelDeployment {target} has no stable version yet")
    mv = await ctx.kube.get(kube.MODEL_VERSIONS, namespace, str(stable))
    if mv is None:
        return Problem("StableVersionNotFound", f"ModelVersion {stable}, stable of {target}, does not exist")
    mv_spec = mv.get("spec") or {}
    artifact = mv_spec.get("artifact") or {}
    model = str((mdep.get("spec") or {}).get("model") or mv_spec.get("model") or "")
    return mdep, jobs.Champion(
        name=str(stable), model=model, uri=str(artifact.get("uri", "")), sha256=str(artifact.get("sha256", "")),
        trusted=bool(artifact.get("trusted", False)), allow_version_skew=bool(mv_spec.get("allowVersionSkew", False)),
        validation=mv_spec.get("validation"),
    )


async def _evaluate(ctx: Context, namespace: str, spec: DriftPolicySpec, settings: DriftSettings, *,
                    target: Mapping[str, Any], champion: jobs.Champion, now: datetime) -> Evaluated | Problem:
    target_name = str(target["metadata"]["name"])
    selector = f"{INSTANCE_LABEL}={target_name},{VERSION_LABEL}={champion.name}"
    pods = observe.serving_pods(await ctx.kube.list(kube.PODS, namespace, label_selector=selector))
    if not pods:
        return Problem("NoReadyReplicas", f"no ready serving pod of {champion.name} ({selector})")
    try:
        profile = await asyncio.to_thread(PROFILES.get, champion.uri, champion.sha256)
    except ArtifactError as exc:
        return Problem("ReferenceUnavailable", f"profile.json of {champion.name}: {exc.reason}: {exc.message}")
    except ProfileError as exc:
        return Problem("ReferenceUnavailable", f"profile.json of {champion.name}: {exc}")
    concept = spec.concept_drift
    scraped = await scrape(pods, champion.model, spec.window, metrics=concept is not None, limits=LIMITS)
    replicas = observe.merge_replicas(profile, scraped.drift)
    left_out = (*sorted(scraped.failed.items()), *replicas.left_out)
    replicas = replace(replicas, left_out=left_out)
    if replicas.counts is None:
        return Problem("NoCounts", "no replica's counts could be used: " + _left_out(left_out))
    try:
        scores = evaluate(profile, replicas.counts, settings)
    except (SettingsError, CountsError) as exc:
        return Problem("InvalidSpec" if isinstance(exc, SettingsError) else "CountsRefused", str(exc))
    accuracy = observe.feedback_accuracy({k: v for k, v in scraped.metrics.items() if k in replicas.merged},
                                         champion.name)
    minimum = concept.minimum if concept is not None else None
    verdict = observe.concept_verdict(accuracy, minimum, spec.min_samples)
    evaluation, status = observe.summarize(scores, now, accuracy=accuracy, concept=verdict,
                                           accuracy_minimum=minimum, replicas=replicas)
    if left_out:
        log.warning("DriftPolicy %s targeting %s: left out %s", namespace, spec.target_ref.name, _left_out(left_out))
    gauges: list[tuple[str, str, float]] = [(f.name, str(f.method), f.score) for f in scores.features]
    return Evaluated(evaluation, status, gauges)


def _left_out(left_out: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{pod}: {why}" for pod, why in left_out)


def _evaluated_message(status: Mapping[str, Any], champion: jobs.Champion) -> str:
    message = (f"{champion.name}: {status['verdict']} over {status['samples']} samples from "
               f"{status['replicas']} replica(s); {status['driftedFeatures']}/{status['totalFeatures']} "
               "features drifted")
    if status.get("unreachable"):
        message += f"; left out (not scraped): {', '.join(status['unreachable'])}"
    return message


async def _observe_job(ctx: Context, namespace: str, name: str, policy_uid: str,
                       now: datetime) -> decide.JobObservation:
    job = await ctx.kube.get(kube.JOBS, namespace, name)
    if job is None:
        return observe.job_observation(None, [], name, now)
    if controller_uid(job) != policy_uid:
        conflict = describe_conflict({**job, "kind": "Job"})
        return decide.JobObservation(name, "Failed", problem=f"NameConflict: {conflict}")
    uid = str((job.get("metadata") or {}).get("uid"))
    pods = await ctx.kube.list(kube.PODS, namespace, label_selector=f"controller-uid={uid}")
    return observe.job_observation(job, pods, name, now)


async def _create_job(ctx: Context, policy: Mapping[str, Any], spec: DriftPolicySpec, request: decide.JobRequest,
                      champion: jobs.Champion) -> str | None:
    """Create the Job; None when it exists as ours (created, or by an earlier attempt), else why not."""
    body = jobs.retrain_job(policy, spec, request, champion, ctx.image)
    namespace = str(policy["metadata"]["namespace"])
    if await ctx.kube.create(kube.JOBS, namespace, body) is not None:
        log.info("created Job %s/%s", namespace, request.name)
        return None
    existing = await ctx.kube.get(kube.JOBS, namespace, request.name)
    if existing is None or controller_uid(existing) == policy["metadata"]["uid"]:
        return None
    return "NameConflict: " + describe_conflict({**existing, "kind": "Job"})


async def _create_version(ctx: Context, namespace: str, request: decide.VersionRequest, model: str,
                          validation: Mapping[str, Any] | None) -> None:
    """Create the ModelVersion; one of that name with the same artifact is ours from an earlier
    attempt, anything else is someone else's (NameConflictError: retried, never overwritten)."""
    body = jobs.model_version(namespace, request, model, validation)
    if await ctx.kube.create(kube.MODEL_VERSIONS, namespace, body) is not None:
        log.info("created ModelVersion %s/%s", namespace, request.name)
        return
    existing = await ctx.kube.get(kube.MODEL_VERSIONS, namespace, request.name)
    if existing is None:
        raise kube.ApiUnavailable(f"ModelVersion {namespace}/{request.name}: create said it exists, get says not")
    sha = ((existing.get("spec") or {}).get("artifact") or {}).get("sha256")
    if sha != request.artifact_sha256 or controller_uid(existing) is not None:
        raise kube.NameConflictError({**existing, "kind": "ModelVersion"})

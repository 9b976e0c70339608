"""One ModelVersion reconcile: read it, decide, inspect the artifact or observe its validation
Job if needed, write the result.

The inspection runs in the inspections pool; a worker waits for it at most HOLD_S (a
reachable artifact is inspected in milliseconds) and otherwise goes back to the queue, the
key retried with backoff and woken when the inspection ends. The validation Job is looked
up (with its pods, and the champion when it is about to be made) and, when missing, created
before the status that names it is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.modelversion import reconcile, validation
from modelops.operator.plans import Plan
from modelops.operator.writing import carry_out

HOLD_S = 1.0
JOBS = kube.Resource("batch", "v1", "jobs", "Job")
PODS = kube.Resource("", "v1", "pods", "Pod")
# Set by the Job controller on the pods of a Job: this Job's, not a namesake's before it.
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.MODEL_VERSIONS, namespace, name)
    if obj is None:
        return None
    obj.setdefault("kind", kube.MODEL_VERSIONS.kind)
    decision = reconcile.decide(obj, ctx.clock())
    if isinstance(decision, reconcile.Validate):
        decision = await _validation_step(ctx, obj, decision)
    if isinstance(decision, reconcile.Verify):
        running = ctx.inspections.start(namespace, name, decision)
        await asyncio.wait({asyncio.wrap_future(running)}, timeout=HOLD_S)
        outcome = ctx.inspections.take(namespace, name, decision)
        if outcome is None:
            # Still downloading: status says Verifying (written now on a first visit); free this worker.
            if decision.announce is not None:
                _seen(ctx, await carry_out(ctx, kube.MODEL_VERSIONS, obj, decision.announce))
                return decision.announce
            return Plan(status=dict(obj.get("status") or {}), retry=True)
        decision = reconcile.conclude(obj, outcome, ctx.clock())
    _seen(ctx, await carry_out(ctx, kube.MODEL_VERSIONS, obj, decision))
    return decision


def _seen(ctx: Context, written: Mapping[str, Any] | None) -> None:
    """Our status write, into the versions the ModelDeployment reconciles read, at once: its watch
    event comes later (and is skipped as our own echo), and a deployment of this model reconciled
    meanwhile would see the version unverified and write "VersionNotReady" for nothing."""
    if written is not None and ctx.versions is not None:
        ctx.versions.update("MODIFIED", written)


async def _validation_step(ctx: Context, obj: Mapping[str, Any], request: reconcile.Validate) -> Plan:
    meta = obj["metadata"]
    namespace, name = str(meta["namespace"]), str(meta["name"])
    job_name = validation.job_name(name)
    job = await ctx.kube.get(JOBS, namespace, job_name)
    pods: list[dict[str, Any]] = []
    if job is not None and (job.get("metadata") or {}).get("uid"):
        selector = f"{CONTROLLER_UID_LABEL}={job['metadata']['uid']}"
        pods = await ctx.kube.list(PODS, namespace, selector)
    observed = validation.observe_job(job, pods, job_name)
    champion = None
    if observed.state == "Missing" and (((obj.get("spec") or {}).get("validation") or {}).get("championComparison")):
        deployments = await ctx.kube.list(kube.MODEL_DEPLOYMENTS, namespace)
        champion = validation.champion(deployments, request.model, name)
    step = validation.step(obj, observed, champion, ctx.image, ctx.clock())
    if step.create is not None and await ctx.kube.create(JOBS, namespace, step.create) is None:
        # Made meanwhile (a restart, another replica): the next reconcile reads it, owner checked.
        return Plan(status=dict(obj.get("status") or {}), retry=True)
    return step.plan

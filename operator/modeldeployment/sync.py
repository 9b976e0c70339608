"""One ModelDeployment reconcile: read it, its ModelVersions and its children; plan; write.

Children are listed by label, which is cheap but proves nothing: a child name the plan
wants and the listing did not return is looked up by name before anything is written, so
that an object of that name which is not ours (another application's Service ``web``) is a
NameConflict the plan sees, not something ``ensure`` would patch. Should one appear between
that look and the write, ``ensure`` refuses it too, and the plan is made again knowing it.
A child the API server refuses (422, 403) still leaves a status saying so.

Router GatewayAPI: whether the cluster serves HTTPRoutes is asked through discovery (a yes
cached by ``Kube.served``, a no asked again next time, so a CRD installed later is found);
HTTPRoute ``D`` is then read by name. Under router Replicas it is read only when discovery is
already known to serve the kind (no request otherwise), so a route left by an earlier
GatewayAPI spec is deleted.

Rollout analysis is the one other I/O: when ``reconcile.analysis_due`` says the rollout in
flight wants an analysis, the pods are listed by label through the API and the metrics
source observes them; the pure plan then consumes that observation. The Pods source keeps
the previous scrape in memory (``ctx.pods_source``): after a restart its first scrape is a
baseline (one Inconclusive analysis, one interval lost); everything else the rollout needs
(step, verdicts, failed analyses, when the last analysis ran) is in status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.operator import kube
from modelops.operator.analysis.factory import source_for
from modelops.operator.analysis.sources import Observation, Query, pod_targets
from modelops.operator.context import Context
from modelops.operator.modeldeployment import reconcile
from modelops.operator.modeldeployment.children import owned_selector
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.ownership import controller_uid
from modelops.operator.plans import Plan
from modelops.operator.writing import carry_out

log = logging.getLogger(__name__)
ChildKey = tuple[str, str]


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.MODEL_DEPLOYMENTS, namespace, name)
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return None  # gone, or going: its children go with it (owner references)
    obj.setdefault("kind", kube.MODEL_DEPLOYMENTS.kind)
    uid = str(obj["metadata"].get("uid"))
    selector = owned_selector(name)
    deployments = await ctx.kube.list(kube.DEPLOYMENTS, namespace, selector)
    services = await ctx.kube.list(kube.SERVICES, namespace, selector)
    if ctx.versions is not None:  # the watch's copies: no list of every version per reconcile
        versions = await ctx.versions.for_deployment(obj, lambda ns: ctx.kube.list(kube.MODEL_VERSIONS, ns))
    else:
        versions = await ctx.kube.list(kube.MODEL_VERSIONS, namespace)
    listed: dict[ChildKey, Mapping[str, Any]] = {_key(c): c for c in [*deployments, *services]}
    others: dict[ChildKey, Mapping[str, Any]] = {}
    routes, served = await _routes(ctx, obj, uid)
    listed.update({_key(r): r for r in routes})

    now = ctx.clock()
    observation = await _observe(ctx, obj, Observed.from_objects(uid, versions, deployments, services), now)

    def decide() -> Plan:
        observed = Observed.from_objects(uid, versions, deployments, services, others.values(), routes=routes,
                                         httproutes_served=served)
        return reconcile.plan(obj, observed, image=ctx.image, now=now, observation=observation)

    plan = decide()
    if await _look_up_unlisted(ctx, namespace, plan, listed, others):
        plan = decide()
    for _ in range(3):
        try:
            await carry_out(ctx, kube.MODEL_DEPLOYMENTS, obj, plan, {**listed, **others}, decided_at=now)
            return plan
        except kube.NameConflictError as exc:  # appeared since the look-up
            log.warning("%s/%s: %s", namespace, name, exc)
            others[(exc.kind, exc.name)] = exc.existing
            plan = decide()
        except kube.ApiError as exc:
            if exc.status == 401:
                raise  # not about this object: the controller logs in again
            if exc.status == 404:
                ctx.kube.forget(kube.HTTPROUTES)  # a kind gone from under a write: ask discovery again
            failed = reconcile.write_failed(obj, f"the API server refused a child: {exc}", now=ctx.clock())
            await carry_out(ctx, kube.MODEL_DEPLOYMENTS, obj, failed)
            raise
    raise kube.ApiUnavailable(f"ModelDeployment {namespace}/{name}: child names keep being taken; trying again")


async def _routes(ctx: Context, obj: Mapping[str, Any], uid: str) -> tuple[list[Mapping[str, Any]], bool]:
    """HTTPRoute ``D`` (ours, or someone else's under router GatewayAPI), and whether the kind is served."""
    meta = obj["metadata"]
    gateway = (obj.get("spec") or {}).get("router") == "GatewayAPI"
    served = await ctx.kube.served(kube.HTTPROUTES, ask=gateway)
    if not served:
        return [], False
    route = await ctx.kube.get(kube.HTTPROUTES, str(meta["namespace"]), str(meta["name"]))
    if route is None or not (gateway or controller_uid(route) == uid):
        return [], True
    return [{**route, "kind": kube.HTTPROUTES.kind}], True


async def _observe(ctx: Context, obj: Mapping[str, Any], observed: Observed, now: datetime) -> Observation | None:
    """The analysis' observation, when one is due (the single I/O step of an analysis)."""
    due = reconcile.analysis_due(obj, observed, image=ctx.image, now=now)
    if due is None:
        return None
    meta = obj["metadata"]
    namespace, name = str(meta["namespace"]), str(meta["name"])
    pods = await ctx.kube.list(kube.PODS, namespace, owned_selector(name))
    query = Query(namespace, name, due.spec.model, due.stable, due.candidate, due.interval, pod_targets(pods))
    return await source_for(due.spec, ctx.pods_source).observe(query)


async def _look_up_unlisted(
    ctx: Context,
    namespace: str,
    plan: Plan,
    listed: Mapping[ChildKey, Mapping[str, Any]],
    found: dict[ChildKey, Mapping[str, Any]],
) -> bool:
    """GET each child the plan would write that the listing did not return; True if any exists."""
    wanted = [_key(c) for c in plan.apply if _key(c) not in listed]
    answers = await asyncio.gather(*(ctx.kube.get(kube.BY_KIND[kind], namespace, name) for kind, name in wanted))
    for (kind, name), obj in zip(wanted, answers, strict=True):
        if obj is not None:
            found[(kind, name)] = {**obj, "kind": kind}
    return any(obj is not None for obj in answers)


def _key(child: Mapping[str, Any]) -> ChildKey:
    return str(child["kind"]), str(child["metadata"]["name"])

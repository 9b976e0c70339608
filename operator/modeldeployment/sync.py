"""One ModelDeployment reconcile: read it, its ModelVersions and its children; plan; write."""

from __future__ import annotations

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.modeldeployment import reconcile
from modelops.operator.modeldeployment.children import owned_selector
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.plans import Plan
from modelops.operator.writing import carry_out


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.MODEL_DEPLOYMENTS, namespace, name)
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return None  # gone, or going: its children go with it (owner references)
    obj.setdefault("kind", kube.MODEL_DEPLOYMENTS.kind)
    selector = owned_selector(name)
    deployments = await ctx.kube.list(kube.DEPLOYMENTS, namespace, selector)
    services = await ctx.kube.list(kube.SERVICES, namespace, selector)
    observed = Observed.from_objects(
        owner_uid=str(obj["metadata"].get("uid")),
        versions=await ctx.kube.list(kube.MODEL_VERSIONS, namespace),
        deployments=deployments,
        services=services,
    )
    plan = reconcile.plan(obj, observed, image=ctx.image, now=ctx.clock())
    listed = {(str(c["kind"]), str(c["metadata"]["name"])): c for c in [*deployments, *services]}
    await carry_out(ctx, kube.MODEL_DEPLOYMENTS, obj, plan, listed)
    return plan

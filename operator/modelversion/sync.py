"""One ModelVersion reconcile: read it, decide, inspect the artifact if needed, write the result."""

from __future__ import annotations

import asyncio

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.modelversion import reconcile, verify
from modelops.operator.plans import Plan
from modelops.operator.writing import carry_out


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.MODEL_VERSIONS, namespace, name)
    if obj is None:
        return None
    obj.setdefault("kind", kube.MODEL_VERSIONS.kind)
    decision = reconcile.decide(obj, ctx.clock())
    if isinstance(decision, reconcile.Verify):
        # Downloads (two small files) block: keep them off the event loop that serves the watches.
        outcome = await asyncio.to_thread(verify.inspect, decision, ctx.artifact_timeout_s)
        decision = reconcile.conclude(obj, outcome, ctx.clock())
    await carry_out(ctx, kube.MODEL_VERSIONS, obj, decision)
    return decision

"""One ModelVersion reconcile: read it, decide, inspect the artifact if needed, write the result.

The inspection runs in the inspections pool; a worker waits for it at most HOLD_S (a
reachable artifact is inspected in milliseconds) and otherwise goes back to the queue, the
key retried with backoff and woken when the inspection ends.
"""

from __future__ import annotations

import asyncio

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.modelversion import reconcile
from modelops.operator.plans import Plan
from modelops.operator.writing import carry_out

HOLD_S = 1.0


async def sync(ctx: Context, namespace: str, name: str) -> Plan | None:
    obj = await ctx.kube.get(kube.MODEL_VERSIONS, namespace, name)
    if obj is None:
        return None
    obj.setdefault("kind", kube.MODEL_VERSIONS.kind)
    decision = reconcile.decide(obj, ctx.clock())
    if isinstance(decision, reconcile.Verify):
        running = ctx.inspections.start(namespace, name, decision)
        await asyncio.wait({asyncio.wrap_future(running)}, timeout=HOLD_S)
        outcome = ctx.inspections.take(namespace, name, decision)
        if outcome is None:
            # Still downloading: status already says Verifying; free this worker.
            return Plan(status=dict(obj.get("status") or {}), retry=True)
        decision = reconcile.conclude(obj, outcome, ctx.clock())
    await carry_out(ctx, kube.MODEL_VERSIONS, obj, decision)
    return decision

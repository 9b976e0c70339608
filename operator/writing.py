"""Carrying out a Plan: children first, then the one status patch and its Events, then deletions.

The order makes a crash at any point harmless: children are made before status says they
exist, and old children are deleted only after status has moved on, so the next reconcile
(from status alone) finds nothing half done that it would not redo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.plans import ACTION_ANNOTATION, Plan, status_patch

log = logging.getLogger(__name__)


async def carry_out(
    ctx: Context,
    resource: kube.Resource,
    obj: Mapping[str, Any],
    plan: Plan,
    listed: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    *,
    decided_at: datetime | None = None,
) -> dict[str, Any] | None:
    """``listed``: the children as this reconcile listed them, by (kind, name); spares a GET each.
    ``decided_at``: the time the plan was made at (its status' timestamps), which its Events carry
    too, so that an Event and the decision it announces (status.history ``at``) never fall on
    two sides of a second (``modelops history`` pairs them by time).

    Returns the object as the status write left it (None: nothing to write, or it is gone)."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta["namespace"]), str(meta["name"])
    for child in plan.apply:
        key = (str(child["kind"]), str(child["metadata"]["name"]))
        outcome = await ctx.kube.ensure(child, "unknown" if listed is None else listed.get(key))
        if outcome != "unchanged":
            log.info("%s %s %s/%s", outcome, child["kind"], namespace, child["metadata"]["name"])
    patch = status_patch(obj.get("status"), plan.status)
    written = None
    if patch:
        written = await ctx.kube.patch(resource, namespace, name, {"status": patch}, subresource="status")
    # The Events announce the transition the status now records: post them as soon as it is
    # written. Were they last, a deletion failing after the status write (a 500) would lose
    # them for good: the next reconcile starts from the new status and sees no transition.
    # One Event per notable transition, a repeat counted up on the one posted (events.py); an
    # Event lost is logged, not worth a failed reconcile.
    await ctx.events.post(ctx.kube, obj, plan.events, decided_at or ctx.clock())
    for kind, child_name, uid in plan.delete:
        if await ctx.kube.delete(kube.BY_KIND[kind], namespace, child_name, uid=uid):
            log.info("deleted %s %s/%s", kind, namespace, child_name)
    acted_on = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
    # Only the action this plan acted on is removed: one set since it was read (promote, then
    # abort a moment later) stays, and its watch event brings the next reconcile to act on it.
    if plan.remove_action and acted_on is not None and not await ctx.kube.remove_annotation(
        resource, namespace, name, ACTION_ANNOTATION, str(acted_on)
    ):
        log.info("%s/%s: %s is no longer %r (changed or removed since it was read); left as it is",
                 namespace, name, ACTION_ANNOTATION, acted_on)
    return written

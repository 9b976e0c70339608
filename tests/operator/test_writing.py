"""Carrying out a plan: the Events announcing a decision carry the decision's own time.

`modelops history` pairs a decision (status.history ``at``, the plan's time) with the Events
that led to it, by time at one-second resolution: an Event stamped when it was posted, a few
milliseconds later, could fall in the next second and was shown as a decision of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from modelops.operator import kube
from modelops.operator.context import Context
from modelops.operator.plans import Event, Plan
from modelops.operator.writing import carry_out

DECIDED = datetime(2026, 11, 30, 20, 0, 0, 990000, tzinfo=UTC)


class _Api:
    """The client calls carry_out makes, recorded."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def create(self, resource: Any, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.created.append(dict(body))
        return dict(body)

    async def patch(self, resource: Any, namespace: str, name: str, patch: Mapping[str, Any],
                    subresource: str | None = None) -> dict[str, Any]:
        return {}


async def test_events_carry_the_time_the_decision_was_made_not_the_time_they_were_posted() -> None:
    api = _Api()
    ctx = Context(kube=cast(kube.Kube, api), clock=lambda: DECIDED + timedelta(milliseconds=30))
    obj = {"apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment",
           "metadata": {"name": "churn", "namespace": "default", "uid": "u1"}, "status": {}}
    plan = Plan(status={"phase": "Stable"}, events=(Event("Normal", "Promoted", "churn-v2 promoted"),))
    await carry_out(ctx, kube.MODEL_DEPLOYMENTS, obj, plan, decided_at=DECIDED)
    (event,) = [b for b in api.created if b.get("kind") == "Event"]
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-11-30T20:00:00Z"  # not 20:00:01
    await carry_out(ctx, kube.MODEL_DEPLOYMENTS, obj, Plan(status={}, events=(Event("Normal", "X", "y"),)))
    assert api.created[-1]["firstTimestamp"] == "2026-11-30T20:00:01Z"  # no decision time given: the clock's

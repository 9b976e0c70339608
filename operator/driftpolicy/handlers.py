"""kopf registrations for DriftPolicies and their retraining Jobs: events only enqueue work.

``async def`` on purpose: kopf runs them on the event loop, where the WorkQueue lives.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import Controller
from modelops.operator.driftpolicy.jobs import MANAGED_BY_LABEL, MANAGER, POLICY_LABEL


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "driftpolicies", registry=registry)
    async def drift_policy_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.policy_event(type, body)

    # A retraining Job finishing: its DriftPolicy reads the result without waiting for a poll.
    @kopf.on.event("batch", "v1", "jobs", labels={MANAGED_BY_LABEL: MANAGER, POLICY_LABEL: kopf.PRESENT},
                   registry=registry)
    async def retrain_job_changed(body: kopf.Body, **_: Any) -> None:
        controller.child_event(body)

"""kopf registrations for ModelDeployments and their children: events only enqueue work."""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import Controller
from modelops.operator.modeldeployment.children import MANAGED_BY_LABEL, MANAGER


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "modeldeployments", registry=registry)
    def model_deployment_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.deployment_event(type, body)

    # A Deployment reporting available replicas, or a child deleted by hand: the owner looks again.
    @kopf.on.event("apps", "v1", "deployments", labels={MANAGED_BY_LABEL: MANAGER}, registry=registry)
    def serving_deployment_changed(body: kopf.Body, **_: Any) -> None:
        controller.child_event(body)

    @kopf.on.event("v1", "services", labels={MANAGED_BY_LABEL: MANAGER}, registry=registry)
    def serving_service_changed(body: kopf.Body, **_: Any) -> None:
        controller.child_event(body)

"""kopf registrations for ModelDeployments and their children (Deployments, Services, HTTPRoutes):
events only enqueue work.

``async def`` on purpose: kopf runs them on the event loop, where the WorkQueue lives
(a plain ``def`` would run in kopf's thread pool and race on the queue's sets).
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import Controller
from modelops.operator.modeldeployment.children import MANAGED_BY_LABEL, MANAGER


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "modeldeployments", registry=registry)
    async def model_deployment_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.deployment_event(type, body)

    # A Deployment reporting available replicas, or a child deleted by hand: the owner looks again.
    @kopf.on.event("apps", "v1", "deployments", labels={MANAGED_BY_LABEL: MANAGER}, registry=registry)
    async def serving_deployment_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.child_event(body, type)

    @kopf.on.event("v1", "services", labels={MANAGED_BY_LABEL: MANAGER}, registry=registry)
    async def serving_service_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.child_event(body, type)

    # Router GatewayAPI: HTTPRoute D edited or deleted by hand is written back. kopf watches the
    # kind only while the cluster serves it (it follows CRDs), so clusters without Gateway API
    # are fine.
    @kopf.on.event("gateway.networking.k8s.io", "v1", "httproutes", labels={MANAGED_BY_LABEL: MANAGER},
                   registry=registry)
    async def serving_route_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.child_event(body, type)

"""kopf registrations for ModelVersions: every event enqueues the version (and its model's deployments)."""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import Controller


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "modelversions", registry=registry)
    def model_version_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.version_event(type, body)

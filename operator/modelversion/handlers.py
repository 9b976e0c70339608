"""kopf registrations for ModelVersions: every event enqueues the version (and its model's deployments).

The handlers are ``async def`` so kopf runs them on the event loop: a plain ``def`` runs in
kopf's thread pool, and the WorkQueue (sets and an asyncio.Queue) is not thread-safe.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import Controller


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "modelversions", registry=registry)
    async def model_version_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.version_event(type, body)

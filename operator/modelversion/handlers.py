"""kopf registrations for ModelVersions: every event enqueues the version (and its model's deployments).

The handlers are ``async def`` so kopf runs them on the event loop: a plain ``def`` runs in
kopf's thread pool, and the WorkQueue (sets and an asyncio.Queue) is not thread-safe.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops import GROUP, VERSION
from modelops.operator.controller import MODEL_VERSION, Controller
from modelops.operator.modelversion.validation import COMPONENT, COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER
from modelops.operator.workqueue import Key


def register(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    @kopf.on.event(GROUP, VERSION, "modelversions", registry=registry)
    async def model_version_changed(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.version_event(type, body)

    # A validation Job that finished (or was deleted): its ModelVersion reads the result.
    @kopf.on.event("batch", "v1", "jobs", labels={COMPONENT_LABEL: COMPONENT, MANAGED_BY_LABEL: MANAGER},
                   registry=registry)
    async def validation_job_changed(body: kopf.Body, **_: Any) -> None:
        meta = body.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if ref.get("kind") == "ModelVersion" and ref.get("controller") is True:
                controller.queue.add(Key(MODEL_VERSION, str(meta.get("namespace")), str(ref.get("name"))))

"""A tiny kopf operator for the emulator's kopf test: marks each Widget as made, in status."""

from __future__ import annotations

from typing import Any

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 30
    settings.persistence.finalizer = "test.modelops.dev/widget-operator"


@kopf.on.create("test.modelops.dev", "v1", "widgets")
def made(spec: kopf.Spec, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = f"Made-{spec['size']}"
    kopf.info(body, reason="Made", message=f"made a widget of size {spec['size']}")


@kopf.on.delete("test.modelops.dev", "v1", "widgets")
def unmade(**_: Any) -> None:
    """Registered so that kopf puts its finalizer on widgets and removes it on deletion."""

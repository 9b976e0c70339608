"""What every reconcile needs besides the object: the client, the serving image, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from modelops import __version__
from modelops.operator.kube import Kube

DEFAULT_IMAGE = f"ghcr.io/modelops/modelops:{__version__}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    kube: Kube
    image: str = DEFAULT_IMAGE
    artifact_timeout_s: float = 30.0
    clock: Callable[[], datetime] = field(default=utcnow)

"""What every reconcile needs besides the object: the client, the serving image, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from modelops.operator.kube import Kube
from modelops.operator.options import DEFAULT_IMAGE


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    kube: Kube
    image: str = DEFAULT_IMAGE
    artifact_timeout_s: float = 30.0
    clock: Callable[[], datetime] = field(default=utcnow)

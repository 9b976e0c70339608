"""What every reconcile needs besides the object: the client, the serving image, a clock, the
pool that inspects artifacts (owned by the controller, so it outlives a re-login) and the
Event recorder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from modelops.operator.analysis.pods import PodsSource
from modelops.operator.events import Recorder
from modelops.operator.kube import EVENTS, Kube
from modelops.operator.modelversion.inspections import Inspections
from modelops.operator.options import DEFAULT_IMAGE
from modelops.operator.versioncache import VersionCache


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    kube: Kube
    image: str = DEFAULT_IMAGE
    clock: Callable[[], datetime] = field(default=utcnow)
    inspections: Inspections = field(default_factory=Inspections)
    # Rollout analysis scrapes: remembers the previous scrape per ModelDeployment.
    pods_source: PodsSource = field(default_factory=PodsSource)
    # ModelVersions from the watch (None: list them per reconcile, as tests without kopf do).
    versions: VersionCache | None = None
    # Posts the plans' Events: collapsed per reconcile, a recent repeat counted up (events.py).
    events: Recorder = field(default_factory=lambda: Recorder(EVENTS))

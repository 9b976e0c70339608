"""What a strategy decides from (``Inputs``), and what it decides (``Decision``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from modelops.api.common import parse_duration
from modelops.api.modeldeployment import AnalysisResult, ModelDeploymentSpec, Phase, Verdict
from modelops.conditions import Desired
from modelops.operator.analysis.sources import Observation
from modelops.operator.modeldeployment.children import Owner
from modelops.operator.modeldeployment.observed import Child
from modelops.operator.plans import Event

# keep_stable: an A/B test the stable version won (or no difference): the candidate goes, no failure
Outcome = Literal["hold", "promote", "rollback", "keep_stable"]
Action = Literal["promote", "abort"]


@dataclass(frozen=True)
class Inputs:
    """One rollout in flight, as the reconciler sees it."""

    spec: ModelDeploymentSpec
    status: Mapping[str, Any]  # the status as read (the rollout's state)
    stable: str | None
    candidate: str
    stable_child: Child | None
    candidate_child: Child | None
    now: datetime
    action: Action | None = None
    observation: Observation | None = None  # fetched by sync when ``analysis_due`` said so
    owner: Owner | None = None  # the ModelDeployment (Shadow names the candidate's Service from it)

    @property
    def resumed(self) -> bool:
        """Whether status already describes this candidate's rollout (else it starts now)."""
        return self.status.get("candidate") == self.candidate

    @property
    def deadline(self) -> timedelta:
        return parse_duration(self.spec.strategy.progress_deadline)

    def started(self) -> datetime:
        at = self.status.get("stepStartedAt") if self.resumed else None
        return datetime.fromisoformat(str(at)) if at else self.now

    def available(self, child: Child | None, replicas: int) -> int:
        """Available replicas of a child scaled to ``replicas`` (0 until the Deployment
        controller has seen that scale)."""
        if child is None or not child.current or child.replicas != replicas:
            return 0
        return child.available


@dataclass(frozen=True)
class Decision:
    phase: Phase
    progressing: Desired
    outcome: Outcome = "hold"
    # the history entry's reason and the Event's message on promote or rollback
    reason: str = ""
    step: int = 0
    started: datetime | None = None
    candidate_replicas: int = 0
    both_serve: bool = False  # Service D selects stable and candidate pods
    # Shadow: percent of live requests mirrored from stable to the candidate (None: no mirror);
    # the router decides how (children.pods_mirror: the stable pods' flags under Replicas)
    mirror_percent: int | None = None
    weight: int = 0  # the effective share of ready pods the candidate has, percent
    verdict: Verdict | None = None
    failed_analyses: int = 0
    last_analysis_at: str | None = None
    analysis: tuple[AnalysisResult, ...] | None = None  # None: keep what status has
    ab_test: Mapping[str, Any] | None = None  # status.abTest (None: keep what status has)
    events: tuple[Event, ...] = field(default=())
    requeue_after: float | None = None


def effective_weight(stable_ready: int, candidate_ready: int) -> int:
    """The candidate's share of the ready pods Service D selects, percent."""
    total = stable_ready + candidate_ready
    return round(100 * candidate_ready / total) if total else 0


def seconds_until(now: datetime, at: datetime) -> float:
    return max((at - now).total_seconds(), 1.0)

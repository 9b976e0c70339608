"""Shared seeds for the strategy tests: a cluster in a few lines, a plan out, its status checked
against ModelDeploymentStatus (so the writer and the CRD schema cannot drift apart)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelops.api.modeldeployment import ModelDeploymentStatus
from modelops.operator.analysis.histograms import Histogram
from modelops.operator.analysis.samples import OutputCounts, VersionSample
from modelops.operator.analysis.sources import Observation
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan
from modelops.operator.plans import Plan
from tests.operator.objects import UID, condition

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BOUNDS = (0.005, 0.01, 0.02, 0.05, 0.1, math.inf)


def run(obj: dict[str, Any], *, versions: Sequence[dict[str, Any]], deployments: Sequence[dict[str, Any]] = (),
        services: Sequence[dict[str, Any]] = (), now: datetime = NOW, observation: Observation | None = None) -> Plan:
    observed = Observed.from_objects(UID, versions=versions, deployments=deployments, services=services)
    p = plan(obj, observed, image="img:1", now=now, observation=observation)
    ModelDeploymentStatus.model_validate(p.status)  # every planned status is one the schema admits
    return p


def cond(p: Plan, type_: str) -> tuple[str, str]:
    for c in p.status["conditions"]:
        if c["type"] == type_:
            return c["status"], c["reason"]
    raise AssertionError(f"no {type_} condition in {p.status}")


def message(p: Plan, type_: str) -> str:
    return str(next(c["message"] for c in p.status["conditions"] if c["type"] == type_))


def applied(p: Plan, kind: str, name: str) -> dict[str, Any]:
    return dict(next(c for c in p.apply if c["kind"] == kind and c["metadata"]["name"] == name))


def stable_status(version: str = "churn-v1", **extra: Any) -> dict[str, Any]:
    return {"observedGeneration": 1, "phase": "Stable", "stable": version, "weight": 100,
            "conditions": [condition("Ready", "True", "Available")], **extra}


def sample(version: str, *, requests: int = 1000, errors: int = 0, bucket: int = 1, labelled: int = 0,
           correct: int = 0, outputs: tuple[int, int] = (500, 500)) -> VersionSample:
    latency = Histogram(BOUNDS, tuple(requests if i >= bucket else 0 for i in range(len(BOUNDS))))
    counts = OutputCounts("drift:2", {"0": outputs[0], "1": outputs[1]})
    return VersionSample(version=version, requests=requests, errors=errors, latency=latency, labelled=labelled,
                         correct=correct, outputs=counts)


def observation(stable: VersionSample, candidate: VersionSample) -> Observation:
    return Observation(source="Pods", versions={stable.version: stable, candidate.version: candidate}, scraped=3,
                       seconds=60.0)

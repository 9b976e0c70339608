"""One interface for rollout metrics, two implementations (``pods``, ``prometheus``).

A strategy asks a source to ``observe`` a ``Query`` once per ``analysis.interval`` and
gets an ``Observation``: one ``VersionSample`` per version seen over the interval (plus
shadow samples), and every pod or query that failed, reported rather than raised. A
source never raises for an unreachable pod or an unanswered query; only a malformed
``Query`` (a caller's bug) raises.

- ``PodsSource`` (``spec.metrics.source: Pods``, the default) scrapes the pods the caller
  listed through the API. It keeps the previous scrape of each deployment in memory: the
  first ``observe`` of a deployment (and the first after an operator restart) is a
  baseline with ``baseline=True`` and no samples, so the analysis is Inconclusive once
  and the figures start one interval later. That memory is a measurement, not rollout
  state: losing it costs one interval, never a wrong result.
- ``PrometheusSource`` (``spec.metrics.source: Prometheus``) asks PromQL ``increase()``
  over the interval: no memory, figures from the first call.

``source_for`` picks the one a spec names. This module holds the interface and its data
only (no I/O), so decision modules can import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.operator.analysis.samples import ShadowSample, VersionSample

SourceKind = Literal["Pods", "Prometheus"]


class SourceConfigError(ValueError):
    """A spec that names no usable metrics source; ``field`` is the spec path to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = "InvalidSpec"


@dataclass(frozen=True)
class PodTarget:
    """A serving pod the caller found through the API (label selector of the deployment)."""

    name: str
    ip: str
    version: str | None = None  # its modelops.dev/version label, for reporting failures
    port: int | None = None  # the serving container's port when not the source's default (8080)


VERSION_LABEL = "modelops.dev/version"  # as on the children (operator.modeldeployment.children)


def pod_targets(pods: Iterable[Mapping[str, Any]]) -> tuple[PodTarget, ...]:
    """The pods worth scraping, from Pod objects as the API lists them: Running, with an
    IP, not being deleted. Readiness is not required: a replica that stopped being ready
    still holds counts of what it served, and one that cannot answer is reported as a
    failure (so a broken candidate replica holds the analysis instead of vanishing from
    it). The port is the container port named ``http``, else the source's default."""
    out: list[PodTarget] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        ip = status.get("podIP")
        if status.get("phase") != "Running" or not ip or meta.get("deletionTimestamp"):
            continue
        port = next(
            (
                p.get("containerPort")
                for c in (pod.get("spec") or {}).get("containers") or []
                for p in c.get("ports") or []
                if p.get("name") == "http" and isinstance(p.get("containerPort"), int)
            ),
            None,
        )
        labels = meta.get("labels") or {}
        out.append(PodTarget(name=str(meta.get("name", ip)), ip=str(ip), version=labels.get(VERSION_LABEL), port=port))
    return tuple(sorted(out, key=lambda t: t.name))


@dataclass(frozen=True)
class Query:
    namespace: str
    deployment: str
    model: str  # spec.model: the name the pods serve under /v2/models/{model}
    stable: str
    candidate: str
    interval: timedelta
    pods: tuple[PodTarget, ...] = ()  # Pods source only

    def __post_init__(self) -> None:
        if self.interval.total_seconds() <= 0:
            raise ValueError(f"analysis interval must be positive, got {self.interval}")

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.deployment


@dataclass(frozen=True)
class SourceFailure:
    """A pod that could not be scraped, or a query Prometheus did not answer."""

    target: str  # pod name, or the PromQL query
    reason: str
    version: str | None = None


@dataclass(frozen=True)
class Observation:
    source: SourceKind
    versions: Mapping[str, VersionSample] = field(default_factory=dict)
    shadow: Mapping[str, ShadowSample] = field(default_factory=dict)  # by candidate version
    failures: tuple[SourceFailure, ...] = ()
    notes: tuple[str, ...] = ()  # metrics not exported, partial data: said plainly
    scraped: int = 0  # pods scraped (Pods) or queries answered (Prometheus)
    baseline: bool = False  # Pods: first scrape of the deployment, no interval yet
    seconds: float | None = None  # how long the interval measured was

    def sample(self, version: str) -> VersionSample:
        """The version's sample; an empty one when nothing of it was seen."""
        return self.versions.get(version) or VersionSample(version=version)

    def failed_pods(self, version: str) -> int:
        return sum(1 for f in self.failures if f.version == version)


class MetricsSource(Protocol):
    async def observe(self, query: Query) -> Observation: ...


def source_kind(spec: ModelDeploymentSpec) -> SourceKind:
    """The source a spec asks for; raises ``SourceConfigError`` naming the field to fix."""
    kind = spec.metrics.source
    if kind == "Prometheus" and spec.prometheus is None:
        raise SourceConfigError(
            "spec.prometheus.url", "spec.metrics.source is Prometheus but spec.prometheus.url is not set"
        )
    return kind

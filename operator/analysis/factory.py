"""The metrics source a ModelDeployment's spec names (``spec.metrics.source``)."""

from __future__ import annotations

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.operator.analysis.pods import PodsSource
from modelops.operator.analysis.prometheus import PrometheusSource
from modelops.operator.analysis.sources import MetricsSource, source_kind


def source_for(spec: ModelDeploymentSpec, pods: PodsSource) -> MetricsSource:
    """``pods`` (one long-lived instance: it remembers the previous scrapes) or a
    Prometheus source for ``spec.prometheus.url``; raises ``SourceConfigError`` (reason
    InvalidSpec, naming the field) for Prometheus without a URL."""
    if source_kind(spec) == "Prometheus" and spec.prometheus is not None:
        return PrometheusSource(spec.prometheus.url)
    return pods

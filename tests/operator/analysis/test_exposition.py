"""The serving pods' /metrics text, parsed; a contract test against the real serving metrics."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.operator.analysis import names
from modelops.operator.analysis.exposition import ExpositionError, parse
from modelops.operator.analysis.samples import build, increase_between, series_key
from modelops.serving.metrics import ServingMetrics


def test_the_serving_pods_metrics_give_the_samples_analysis_reads() -> None:
    m = ServingMetrics("churn", "v2")
    before = parse(m.exposition().decode())
    for _ in range(97):
        m.request(200, 0.004)
    for _ in range(3):
        m.request(500, 0.2)
    m.batch(np.array([0, 1, 1, 0, 1]), classification=True)
    m.feedback(rows=10, correct=7, rolling_accuracy=0.7)
    after = parse(m.exposition().decode())

    assert names.FEEDBACK_ROWS in before.families  # declared before any feedback: zero, not absent
    assert names.SHADOW_ROWS not in after.families  # not exported (yet)
    inc = increase_between(before, after)
    assert inc is not None
    v2 = build(inc, after.families).versions["v2"]
    assert (v2.requests, v2.errors, v2.labelled, v2.correct) == (100, 3, 10, 7)
    assert v2.latency is not None
    assert v2.latency.total == 100
    assert v2.latency.quantile(0.5) is not None
    assert v2.outputs is not None
    assert dict(v2.outputs.counts) == {"0": 2, "1": 3}


def test_created_timestamps_are_kept_per_series() -> None:
    m = ServingMetrics("churn", "v1")
    m.request(200, 0.01)
    parsed = parse(m.exposition().decode())
    key = series_key(names.REQUESTS, {"model": "churn", "version": "v1", "code": "200"})
    assert key in parsed.values
    assert key in parsed.created
    assert series_key(names.LATENCY_BUCKET, {"model": "churn", "version": "v1"}) in parsed.created


def test_text_that_is_not_an_exposition_is_an_error() -> None:
    with pytest.raises(ExpositionError, match="not Prometheus text"):
        parse('modelops_requests_total{code="200" 1\n')

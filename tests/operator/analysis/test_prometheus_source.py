"""The Prometheus source against a fake Prometheus HTTP API on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.factory import source_for
from modelops.operator.analysis.histograms import Histogram
from modelops.operator.analysis.pods import PodsSource
from modelops.operator.analysis.prometheus import PrometheusSource, PromQLError, parse_vector, queries
from modelops.operator.analysis.sources import Observation, Query, SourceConfigError
from modelops.operator.analysis.verdicts import evaluate_observation

from .fakes import FakePrometheus, Vector, closed_port

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
Q = Query(
    namespace="prod", deployment="churn", model="churn", stable="v1", candidate="v2", interval=timedelta(minutes=1)
)

# Canned answers per metric, as `sum by (...) (increase(...))` returns them: extrapolated floats.
CANNED: dict[str, Vector] = {
    "modelops_requests_total": [
        ({"version": "v1", "code": "200"}, 1995.7),
        ({"version": "v1", "code": "503"}, 4.1),
        ({"version": "v2", "code": "200"}, 480.2),
        ({"version": "v2", "code": "500"}, 19.9),
    ],
    "modelops_request_duration_seconds_bucket": [
        ({"version": "v1", "le": "0.01"}, 1980.0),
        ({"version": "v1", "le": "0.1"}, 2000.0),
        ({"version": "v1", "le": "+Inf"}, 2000.0),
        ({"version": "v2", "le": "0.01"}, 495.0),
        ({"version": "v2", "le": "0.1"}, 500.0),
        ({"version": "v2", "le": "+Inf"}, 500.0),
    ],
    "modelops_feedback_rows_total": [({"version": "v1"}, 400.0), ({"version": "v2"}, 300.0)],
    "modelops_feedback_correct_total": [({"version": "v1"}, 360.0), ({"version": "v2"}, 210.0)],
    "modelops_predictions_total": [
        ({"version": "v1", "class": "no"}, 1500.0),
        ({"version": "v1", "class": "yes"}, 500.0),
        ({"version": "v2", "class": "no"}, 370.0),
        ({"version": "v2", "class": "yes"}, 130.0),
    ],
}


def metric_of(promql: str) -> str:
    return promql.split("increase(", 1)[1].split("{", 1)[0]


def canned(promql: str) -> Vector:
    return CANNED.get(metric_of(promql), [])


async def observe(answer: Any) -> tuple[Observation, FakePrometheus]:
    prom = FakePrometheus(answer)
    await prom.start()
    try:
        observed = await PrometheusSource(prom.url).observe(Q)
    finally:
        await prom.stop()
    return observed, prom


async def test_samples_from_promql_increases() -> None:
    observed, prom = await observe(canned)
    assert observed.failures == ()
    assert observed.seconds == 60.0
    v1, v2 = observed.sample("v1"), observed.sample("v2")
    assert (v1.requests, v1.errors, v1.labelled, v1.correct) == (2000, 4, 400, 360)
    assert (v2.requests, v2.errors, v2.labelled, v2.correct) == (500, 20, 300, 210)
    assert v2.latency == Histogram((0.01, 0.1, float("inf")), (495, 500, 500))
    assert v1.outputs is not None
    assert (v1.outputs.layout, dict(v1.outputs.counts)) == ("class", {"no": 1500, "yes": 500})
    assert observed.shadow == {}
    # every documented query was asked, each an increase over the interval for our versions
    assert {metric_of(q) for q in prom.queries} == set(queries(Q))
    assert all("[60s]" in q and 'model="churn"' in q for q in prom.queries)
    run = evaluate_observation(observed, "v1", "v2", Thresholds(min_samples=200), NOW)
    verdicts = {r.metric: r.verdict for r in run.results}
    assert verdicts == {
        "errorRate": "Fail", "latencyP99Ratio": "Pass", "accuracyDrop": "Fail", "predictionPSI": "Pass",
    }  # fmt: skip


def test_the_documented_queries() -> None:
    q = queries(Q)
    assert q["modelops_requests_total"] == (
        'sum by (version, code) (increase(modelops_requests_total{model="churn",version=~"v1|v2"}[60s]))'
    )
    assert q["modelops_shadow_agreed_rows_total"] == (
        "sum by (version, candidate) (increase(modelops_shadow_agreed_rows_total"
        '{model="churn",version="v1",candidate="v2"}[60s]))'
    )
    scoped = queries(Q, namespace_label="namespace")
    assert 'version=~"v1|v2",namespace="prod"}' in scoped["modelops_request_duration_seconds_bucket"]
    with pytest.raises(ValueError, match="not a DNS label"):
        queries(Query("prod", "churn", "churn", 'v1"}', "v2", timedelta(minutes=1)))


async def test_shadow_series_from_prometheus() -> None:
    shadow = {"version": "v1", "candidate": "v2"}
    extra: dict[str, Vector] = {
        "modelops_shadow_requests_total": [
            ({**shadow, "outcome": "answered"}, 990.0),
            ({**shadow, "outcome": "error"}, 10.0),
        ],
        "modelops_shadow_rows_total": [(shadow, 990.0)],
        "modelops_shadow_agreed_rows_total": [(shadow, 970.2)],
    }
    observed, _ = await observe(lambda promql: extra.get(metric_of(promql)) or canned(promql))
    s = observed.shadow["v2"]
    assert (s.mirrored, s.errors, s.compared, s.agreed) == (1000, 10, 990, 970)
    assert s.latency is None


async def test_a_failing_query_is_reported_and_its_metrics_are_missing() -> None:
    def answer(promql: str) -> Vector | tuple[int, dict[str, Any]]:
        if "request_duration" in promql:
            return 422, {"status": "error", "errorType": "execution", "error": "query timed out"}
        return canned(promql)

    observed, _ = await observe(answer)
    assert len(observed.failures) == 1
    assert "HTTP 422: execution: query timed out" in observed.failures[0].reason
    assert observed.sample("v2").latency is None
    assert observed.sample("v2").requests == 500
    run = evaluate_observation(observed, "v1", "v2", Thresholds(min_samples=200), NOW)
    assert {r.metric: r.verdict for r in run.results}["latencyP99Ratio"] == "Inconclusive"
    assert "query timed out" in run.describe()


async def test_an_unreachable_prometheus_is_inconclusive_not_an_exception() -> None:
    source = PrometheusSource(f"http://127.0.0.1:{closed_port()}", timeout=1.0)
    observed = await source.observe(Q)
    assert len(observed.failures) == len(queries(Q))
    assert observed.versions == {}
    assert evaluate_observation(observed, "v1", "v2", Thresholds(), NOW).decision == "Inconclusive"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', "expected a vector, got matrix"),
        (b'{"status": "error", "errorType": "bad_data", "error": "parse error"}', "bad_data: parse error"),
        (b"<html>", "not a Prometheus API answer"),
        (b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}', "malformed"),
    ],
)
def test_answers_that_are_not_a_vector(body: bytes, message: str) -> None:
    with pytest.raises(PromQLError, match=message):
        parse_vector(body)


def test_nan_samples_are_dropped() -> None:
    body = (
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"version":"v1"},"value":[1,"NaN"]}]}}'
    )
    assert parse_vector(body) == []


def test_the_source_a_spec_names() -> None:
    pods = PodsSource()
    spec = ModelDeploymentSpec.model_validate({"model": "churn"})
    assert source_for(spec, pods) is pods
    prom = ModelDeploymentSpec.model_validate(
        {"model": "churn", "metrics": {"source": "Prometheus"}, "prometheus": {"url": "http://prom:9090"}}
    )
    chosen = source_for(prom, pods)
    assert isinstance(chosen, PrometheusSource)
    assert chosen.url == "http://prom:9090"
    missing = ModelDeploymentSpec.model_validate({"model": "churn", "metrics": {"source": "Prometheus"}})
    with pytest.raises(SourceConfigError, match=r"spec\.prometheus\.url is not set") as info:
        source_for(missing, pods)
    assert info.value.field == "spec.prometheus.url"

"""The Pods source against small fake serving pods over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.pods import PodsSource
from modelops.operator.analysis.sources import Observation, PodTarget, Query
from modelops.operator.analysis.verdicts import SHADOW_METRICS, evaluate_observation

from .fakes import HOST, FakePod, closed_port

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def running(*pods: FakePod) -> AsyncIterator[None]:
    for pod in pods:
        await pod.start()
    try:
        yield
    finally:
        for pod in pods:
            await pod.stop()


def query(*pods: PodTarget, interval: float = 60) -> Query:
    return Query(
        namespace="default", deployment="churn", model="churn", stable="v1", candidate="v2",
        interval=timedelta(seconds=interval), pods=pods,
    )  # fmt: skip


async def test_first_observation_is_a_baseline_then_intervals_are_differences() -> None:
    a, b, c = FakePod("churn-v1-a", "v1"), FakePod("churn-v1-b", "v1"), FakePod("churn-v2-a", "v2")
    clock = Clock()
    source = PodsSource(clock=clock)
    async with running(a, b, c):
        a.serve(ok=1000, errors=10)  # before the baseline: never counted
        q = query(a.target, b.target, c.target)
        first = await source.observe(q)
        assert first.baseline
        assert first.versions == {}
        assert first.scraped == 3

        a.serve(ok=300, outputs=(200, 90, 10), labelled=50, correct=45)
        b.serve(ok=200, errors=2, seconds=0.03, outputs=(100, 90, 10), labelled=30, correct=27)
        c.serve(ok=97, errors=3, seconds=0.2, outputs=(10, 80, 10), labelled=20, correct=10)
        clock.now += 61.5
        second = await source.observe(q)

    assert not second.baseline
    assert second.seconds == pytest.approx(61.5)
    assert second.failures == ()
    v1, v2 = second.sample("v1"), second.sample("v2")
    assert (v1.requests, v1.errors, v1.labelled, v1.correct) == (502, 2, 80, 72)
    assert (v2.requests, v2.errors, v2.labelled, v2.correct) == (100, 3, 20, 10)
    assert v1.latency is not None
    assert v1.latency.total == 502
    assert v2.latency is not None
    assert v2.latency.quantile(0.99) is not None
    assert v1.outputs is not None
    assert (v1.outputs.layout, dict(v1.outputs.counts)) == ("drift:3", {"0": 300, "1": 180, "2": 20})
    assert v2.outputs is not None
    assert dict(v2.outputs.counts) == {"0": 10, "1": 80, "2": 10}
    # one second more than the interval: whole buckets covering the interval, not the current one alone
    assert c.windows == ["61", "61"]
    assert c.summed == ["true", "true"]  # only the totals are used: one bucket per pod


async def test_a_restarted_pod_counts_its_new_values_as_the_increase() -> None:
    pod = FakePod("churn-v2-a", "v2")
    source = PodsSource()
    async with running(pod):
        q = query(pod.target)
        pod.serve(ok=5000, errors=100)
        await source.observe(q)
        pod.restart()  # counters back to zero...
        pod.serve(ok=40, errors=1)  # ...then 41 requests
        after_restart = await source.observe(q)
        pod.serve(ok=10)
        next_interval = await source.observe(q)
    v2 = after_restart.sample("v2")
    assert (v2.requests, v2.errors) == (41, 1)
    assert v2.latency is not None
    assert v2.latency.total == 41
    assert next_interval.sample("v2").requests == 10


async def test_unscrapable_pods_are_reported_and_the_rest_counted() -> None:
    good = FakePod("churn-v1-good", "v1")
    erroring = FakePod("churn-v2-500", "v2")
    erroring.metrics_status = 500
    slow = FakePod("churn-v2-slow", "v2")
    garbled = FakePod("churn-v2-garbled", "v2")
    refused = PodTarget(name="churn-v2-gone", ip=HOST, version="v2", port=closed_port())
    source = PodsSource(pod_timeout=0.5)
    async with running(good, erroring, slow, garbled):
        q = query(good.target, erroring.target, slow.target, garbled.target, refused)
        await source.observe(q)
        slow.delay = 5.0
        garbled.garbage = True
        good.serve(ok=300)
        observed = await source.observe(q)

    reasons = {f.target: f.reason for f in observed.failures}
    assert set(reasons) == {"churn-v2-500", "churn-v2-slow", "churn-v2-garbled", "churn-v2-gone"}
    assert "HTTP 500" in reasons["churn-v2-500"]
    assert "timed out" in reasons["churn-v2-slow"]
    assert "not Prometheus text" in reasons["churn-v2-garbled"]
    assert "Connect" in reasons["churn-v2-gone"]
    assert observed.failed_pods("v2") == 4
    assert observed.scraped == 1
    assert observed.sample("v1").requests == 300
    assert any("4 of 5 pods not scraped" in n for n in observed.notes)


async def test_pods_still_pending_at_the_deadline_are_failures() -> None:
    pods = [FakePod(f"churn-v2-{i}", "v2") for i in range(3)]
    source = PodsSource(pod_timeout=5.0, deadline=0.3, concurrency=1)
    async with running(*pods):
        for pod in pods:
            pod.delay = 2.0
        observed = await source.observe(query(*(p.target for p in pods)))
    assert len(observed.failures) == 3
    assert all("deadline" in f.reason for f in observed.failures)
    assert observed.baseline


async def test_a_pod_that_failed_counts_everything_since_its_last_good_scrape() -> None:
    pod = FakePod("churn-v2-a", "v2")
    source = PodsSource()
    async with running(pod):
        q = query(pod.target)
        await source.observe(q)
        pod.serve(ok=100)
        pod.metrics_status = 503
        missed = await source.observe(q)
        pod.metrics_status = 200
        pod.serve(ok=50)
        back = await source.observe(q)
    assert missed.sample("v2").requests == 0
    assert back.sample("v2").requests == 150


async def test_a_pod_first_seen_mid_rollout_joins_at_the_next_interval() -> None:
    old, new = FakePod("churn-v2-a", "v2"), FakePod("churn-v2-b", "v2")
    source = PodsSource()
    async with running(old, new):
        await source.observe(query(old.target))
        new.serve(ok=7000)  # counted before we ever saw it: not this interval's
        old.serve(ok=20)
        joined = await source.observe(query(old.target, new.target))
        new.serve(ok=30)
        later = await source.observe(query(old.target, new.target))
    assert joined.sample("v2").requests == 20
    assert later.sample("v2").requests == 30


async def test_a_pod_keeping_exactly_the_interval_is_asked_for_the_interval_itself() -> None:
    pod = FakePod("churn-v2-a", "v2")
    pod.max_window = 3600
    source = PodsSource()
    async with running(pod):
        q = query(pod.target, interval=3600)
        await source.observe(q)
        pod.serve(ok=10, outputs=(5, 5, 0))
        observed = await source.observe(q)
    assert pod.windows[-2:] == ["3601", "3600"]
    assert pod.summed[-2:] == ["true", "true"]
    v2 = observed.sample("v2")
    assert v2.outputs is not None
    assert v2.outputs.total == 10
    assert observed.notes == ()


async def test_a_failed_drift_answer_drops_only_the_output_counts() -> None:
    pod = FakePod("churn-v2-a", "v2")
    pod.drift_status = 400
    source = PodsSource()
    async with running(pod):
        await source.observe(query(pod.target))
        pod.serve(ok=10, outputs=(5, 5, 0))
        observed = await source.observe(query(pod.target))
    v2 = observed.sample("v2")
    assert v2.requests == 10
    assert v2.outputs is None
    assert any("churn-v2-a: no output counts, /drift: HTTP 400" in n for n in observed.notes)


async def test_shadow_counters_of_the_stable_pods_and_the_verdicts_on_them() -> None:
    stable = FakePod("churn-v1-a", "v1", shadow_of="v2")
    candidate = FakePod("churn-v2-a", "v2")
    source = PodsSource()
    thresholds = Thresholds(min_samples=100, shadow_min_samples=100, min_agreement=0.9)
    async with running(stable, candidate):
        q = query(stable.target, candidate.target)
        await source.observe(q)
        stable.serve(ok=500, outputs=(300, 180, 20))
        stable.mirror(answered=480, errors=20, rows=480, agreed=300)
        candidate.serve(ok=480, outputs=(290, 170, 20))
        observed = await source.observe(q)
    shadow = observed.shadow["v2"]
    assert (shadow.mirrored, shadow.errors, shadow.compared, shadow.agreed) == (500, 20, 480, 300)
    assert shadow.latency is not None
    assert shadow.latency.total == 480
    run = evaluate_observation(observed, "v1", "v2", thresholds, NOW, metrics=SHADOW_METRICS)
    verdicts = {r.metric: r.verdict for r in run.results}
    assert verdicts == {
        "errorRate": "Pass", "latencyP99Ratio": "Pass", "predictionPSI": "Pass",
        "agreement": "Fail", "shadowErrorRate": "Fail",
    }  # fmt: skip


async def test_without_shadow_series_the_shadow_metrics_are_inconclusive() -> None:
    stable, candidate = FakePod("churn-v1-a", "v1"), FakePod("churn-v2-a", "v2")
    source = PodsSource()
    async with running(stable, candidate):
        q = query(stable.target, candidate.target)
        await source.observe(q)
        stable.serve(ok=500, outputs=(300, 180, 20))
        candidate.serve(ok=500, outputs=(300, 180, 20))
        observed: Observation = await source.observe(q)
    run = evaluate_observation(observed, "v1", "v2", Thresholds(min_samples=100), NOW, metrics=SHADOW_METRICS)
    verdicts = {r.metric: r.verdict for r in run.results}
    assert verdicts["agreement"] == "Inconclusive"
    assert verdicts["errorRate"] == "Pass"
    assert run.decision == "Inconclusive"


async def test_no_pods_and_forgetting_a_deployment() -> None:
    source = PodsSource()
    empty = await source.observe(query())
    assert empty.baseline
    assert empty.scraped == 0
    again = await source.observe(query())
    assert not again.baseline
    source.forget("default", "churn")
    assert (await source.observe(query())).baseline

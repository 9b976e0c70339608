"""Latency histograms: PromQL's histogram_quantile on cumulative buckets."""

from __future__ import annotations

import math

import pytest

from modelops.operator.analysis.histograms import Histogram, HistogramError, parse_le

INF = math.inf


def test_quantile_interpolates_linearly_inside_the_bucket_of_the_rank() -> None:
    # 100 observations: 50 <= 0.1, 90 <= 0.2, 100 <= 0.5
    h = Histogram((0.1, 0.2, 0.5, INF), (50, 90, 100, 100))
    assert h.quantile(0.5) == pytest.approx(0.1)
    # rank 99 lies in (0.2, 0.5]: 0.2 + 0.3 * (99 - 90) / 10
    assert h.quantile(0.99) == pytest.approx(0.2 + 0.3 * 0.9)
    # the first bucket starts at 0
    assert h.quantile(0.25) == pytest.approx(0.05)


def test_rank_in_the_inf_bucket_answers_the_highest_finite_bound() -> None:
    h = Histogram((0.1, 1.0, INF), (10, 10, 100))
    assert h.quantile(0.99) == 1.0


def test_no_observations_have_no_quantile() -> None:
    assert Histogram.empty((0.1, INF)).quantile(0.99) is None


def test_non_monotonic_counts_are_made_monotonic_as_prometheus_does() -> None:
    # extrapolated increases may dip: 0.2's bucket below 0.1's
    h = Histogram((0.1, 0.2, 0.5, INF), (60, 58, 100, 100))
    fixed = Histogram((0.1, 0.2, 0.5, INF), (60, 60, 100, 100))
    assert h.quantile(0.99) == fixed.quantile(0.99)
    assert h.quantile(0.59) == fixed.quantile(0.59)


def test_from_buckets_sorts_bounds_and_rounds_counts() -> None:
    h = Histogram.from_buckets({INF: 10.4, 0.5: 9.6, 0.1: 2.2})
    assert h.bounds == (0.1, 0.5, INF)
    assert h.counts == (2, 10, 10)
    assert h.total == 10


def test_sum_of_replicas_adds_bucket_counts() -> None:
    a = Histogram((0.1, INF), (1, 2))
    b = Histogram((0.1, INF), (3, 5))
    assert (a + b).counts == (4, 7)
    with pytest.raises(HistogramError, match="different buckets"):
        _ = a + Histogram((0.2, INF), (0, 0))


@pytest.mark.parametrize(
    ("bounds", "counts", "message"),
    [
        ((0.1, 0.2), (1, 2), r"\+Inf"),
        ((0.2, 0.1, INF), (1, 2, 3), "strictly increasing"),
        ((0.1, INF), (1,), "bounds for"),
        ((0.1, INF), (-1, 0), "negative"),
    ],
)
def test_malformed_buckets_are_refused(bounds: tuple[float, ...], counts: tuple[int, ...], message: str) -> None:
    with pytest.raises(HistogramError, match=message):
        Histogram(bounds, counts)


def test_le_labels() -> None:
    assert parse_le("+Inf") == INF
    assert parse_le("0.005") == 0.005
    with pytest.raises(HistogramError, match="not a number"):
        parse_le("fast")

"""Interval samples: differences of cumulative scrapes, counter resets, per-version sums."""

from __future__ import annotations

import pytest

from modelops.operator.analysis import names
from modelops.operator.analysis.samples import (
    Cumulative,
    Increases,
    add,
    build,
    increase_between,
    restarted,
    series_key,
)

V1 = {"model": "churn", "version": "v1"}
V2 = {"model": "churn", "version": "v2"}
ALL = frozenset(names.CUMULATIVE)


def req(code: str, labels: dict[str, str] = V1) -> tuple[str, tuple[tuple[str, str], ...]]:
    return series_key(names.REQUESTS, {**labels, "code": code})


def bucket(le: str, labels: dict[str, str] = V1) -> tuple[str, tuple[tuple[str, str], ...]]:
    return series_key(names.LATENCY_BUCKET, {**labels, "le": le})


def test_first_scrape_of_a_pod_is_a_baseline_without_figures() -> None:
    assert increase_between(None, Cumulative({req("200"): 500.0})) is None


def test_increase_is_the_difference_and_a_new_series_counts_from_zero() -> None:
    before = Cumulative({req("200"): 100.0})
    after = Cumulative({req("200"): 130.0, req("500"): 2.0})
    assert increase_between(before, after) == {req("200"): 30.0, req("500"): 2.0}


def test_a_counter_going_down_is_a_restart_and_the_new_value_is_the_increase() -> None:
    before = Cumulative({req("200"): 1000.0})
    after = Cumulative({req("200"): 40.0})
    assert increase_between(before, after) == {req("200"): 40.0}


def test_a_restart_resets_every_series_of_the_pod_even_those_already_above_their_old_value() -> None:
    # Before the restart: 10 requests, 5 within 0.1 s. After it: 50 requests, all fast, and
    # the 0.1 s bucket (50) is above its old value (5): per-series detection would count 45.
    before = Cumulative({bucket("0.1"): 5.0, bucket("+Inf"): 10.0, req("200"): 10.0, req("500"): 3.0})
    after = Cumulative({bucket("0.1"): 50.0, bucket("+Inf"): 50.0, req("200"): 50.0})
    assert restarted(before, after)  # req("500") vanished
    assert increase_between(before, after) == {bucket("0.1"): 50.0, bucket("+Inf"): 50.0, req("200"): 50.0}


def test_a_changed_created_timestamp_is_a_restart_even_when_every_counter_grew() -> None:
    before = Cumulative({req("200"): 10.0}, created={req("200"): 1000.0})
    after = Cumulative({req("200"): 70.0}, created={req("200"): 2000.0})
    assert restarted(before, after)
    assert increase_between(before, after) == {req("200"): 70.0}
    same = Cumulative({req("200"): 70.0}, created={req("200"): 1000.0})
    assert increase_between(before, same) == {req("200"): 60.0}


def test_build_sums_pods_by_the_version_label_not_by_the_pod() -> None:
    # a stable pod scored feedback for a candidate prediction: it counts for the candidate
    pod_a: Increases = {
        req("200"): 90.0,
        req("503"): 10.0,
        series_key(names.FEEDBACK_ROWS, V1): 40.0,
        series_key(names.FEEDBACK_CORRECT, V1): 36.0,
        series_key(names.FEEDBACK_ROWS, V2): 5.0,
        series_key(names.FEEDBACK_CORRECT, V2): 4.0,
    }
    pod_b: Increases = {
        req("200", V2): 20.0,
        req("500", V2): 1.0,
        req("404", V2): 3.0,
        series_key(names.FEEDBACK_ROWS, V2): 15.0,
        series_key(names.FEEDBACK_CORRECT, V2): 11.0,
    }
    built = build(add([pod_a, pod_b]), ALL)
    v1, v2 = built.versions["v1"], built.versions["v2"]
    assert (v1.requests, v1.errors, v1.labelled, v1.correct) == (100, 10, 40, 36)
    assert (v2.requests, v2.errors, v2.labelled, v2.correct) == (24, 1, 20, 15)
    assert v1.error_rate == pytest.approx(10.0)
    assert v2.accuracy == pytest.approx(0.75)


def test_build_makes_histograms_and_class_counts_and_rounds_extrapolated_counts() -> None:
    inc: Increases = {
        bucket("0.01"): 79.6,
        bucket("0.1"): 99.7,
        bucket("+Inf"): 100.2,
        series_key(names.PREDICTIONS, {**V1, "class": "0"}): 60.4,
        series_key(names.PREDICTIONS, {**V1, "class": "1"}): 39.5,
    }
    v1 = build(inc, ALL).versions["v1"]
    assert v1.latency is not None
    assert v1.latency.counts == (80, 100, 100)
    assert v1.outputs is not None
    assert (v1.outputs.layout, dict(v1.outputs.counts)) == ("class", {"0": 60, "1": 40})


def test_a_family_not_exported_gives_no_output_counts_and_no_shadow_sample() -> None:
    built = build({req("200"): 10.0}, frozenset({names.REQUESTS}))
    assert built.versions["v1"].outputs is None
    assert built.shadow == {}


def test_shadow_series_become_a_sample_per_candidate() -> None:
    shadow = {**V1, "candidate": "v2"}
    inc: Increases = {
        series_key(names.SHADOW_REQUESTS, {**shadow, "outcome": "answered"}): 95.0,
        series_key(names.SHADOW_REQUESTS, {**shadow, "outcome": "error"}): 5.0,
        series_key(names.SHADOW_REQUESTS, {**shadow, "outcome": "dropped"}): 7.0,
        series_key(names.SHADOW_ROWS, shadow): 190.0,
        series_key(names.SHADOW_AGREED, shadow): 171.0,
        series_key(names.SHADOW_LATENCY_BUCKET, {**shadow, "le": "0.05"}): 90.0,
        series_key(names.SHADOW_LATENCY_BUCKET, {**shadow, "le": "+Inf"}): 95.0,
    }
    s = build(inc, ALL).shadow["v2"]
    assert (s.mirrored, s.errors, s.compared, s.agreed) == (100, 5, 190, 171)
    assert s.latency is not None
    assert s.latency.total == 95


def test_malformed_series_are_reported_not_raised() -> None:
    inc: Increases = {
        bucket("soon"): 3.0,
        series_key(names.SHADOW_ROWS, V1): 3.0,  # no candidate label
        bucket("0.1", V2): 3.0,  # no +Inf bucket
    }
    built = build(inc, ALL)
    assert any("not a number" in p for p in built.problems)
    assert any("without a candidate label" in p for p in built.problems)
    assert any("+Inf" in p for p in built.problems)
    assert built.versions["v2"].latency is None


def test_rates_without_traffic_are_none_not_nan() -> None:
    assert build({}, ALL).versions == {}
    quiet = build({req("200"): 0.0}, ALL).versions["v1"]
    assert quiet.error_rate is None
    assert quiet.accuracy is None

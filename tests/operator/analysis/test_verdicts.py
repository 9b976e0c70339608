"""Verdict tables: stable vs candidate samples against the spec's thresholds (pure)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from modelops.api.modeldeployment import ModelDeploymentStatus, Strategy
from modelops.operator.analysis.criteria import DEFAULT_MIN_AGREEMENT, Thresholds
from modelops.operator.analysis.histograms import Histogram
from modelops.operator.analysis.samples import OutputCounts, ShadowSample, VersionSample
from modelops.operator.analysis.sources import Observation, SourceFailure
from modelops.operator.analysis.verdicts import (
    ACCURACY,
    AGREEMENT,
    CANARY_METRICS,
    ERROR_RATE,
    LATENCY,
    PSI,
    SHADOW_ERRORS,
    SHADOW_METRICS,
    MetricResult,
    count_failures,
    decide,
    evaluate,
    evaluate_observation,
    failures_exceeded,
    first_failure,
)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
T = Thresholds(min_samples=200)
BOUNDS = (0.005, 0.01, 0.02, 0.05, 0.1, math.inf)


def latency(bucket: int, n: int = 1000) -> Histogram:
    """``n`` observations, all in bucket number ``bucket`` of BOUNDS."""
    return Histogram(BOUNDS, tuple(n if i >= bucket else 0 for i in range(len(BOUNDS))))


def sample(
    version: str,
    *,
    requests: int = 1000,
    errors: int = 0,
    lat: Histogram | None = None,
    labelled: int = 500,
    correct: int = 450,
    outputs: dict[str, int] | None = None,
) -> VersionSample:
    return VersionSample(
        version=version,
        requests=requests,
        errors=errors,
        latency=lat if lat is not None else latency(1),
        labelled=labelled,
        correct=correct,
        outputs=OutputCounts("drift:3", outputs if outputs is not None else {"0": 600, "1": 380, "2": 20}),
    )


STABLE = sample("v1")
GOOD = sample("v2")


def verdicts(stable: VersionSample, candidate: VersionSample, t: Thresholds = T) -> dict[str, str]:
    return {r.metric: r.verdict for r in evaluate(stable, candidate, t, NOW).results}


def test_a_candidate_like_stable_passes_every_metric() -> None:
    run = evaluate(STABLE, GOOD, T, NOW)
    assert [r.metric for r in run.results] == list(CANARY_METRICS)
    assert {r.verdict for r in run.results} == {"Pass"}
    assert run.decision == "Pass"
    byname = {r.metric: r for r in run.results}
    assert byname[LATENCY].value == pytest.approx(1.0)
    assert byname[ACCURACY].value == pytest.approx(0.0)
    assert byname[PSI].value == pytest.approx(0.0)
    assert byname[ERROR_RATE].samples == 1000
    assert all(r.time == "2026-11-30T12:00:00Z" for r in run.results)


@pytest.mark.parametrize(
    ("candidate", "failing", "value"),
    [
        (replace(GOOD, errors=20), ERROR_RATE, 2.0),  # 2 % > 1 %
        (replace(GOOD, latency=latency(2)), LATENCY, (0.01 + 0.01 * 0.99) / (0.005 + 0.005 * 0.99)),
        (replace(GOOD, correct=400), ACCURACY, 0.9 - 0.8),
        (sample("v2", outputs={"0": 100, "1": 300, "2": 600}), PSI, None),
    ],
    ids=["error-rate", "latency", "accuracy", "prediction-psi"],
)
def test_each_bad_metric_fails_alone(candidate: VersionSample, failing: str, value: float | None) -> None:
    run = evaluate(STABLE, candidate, T, NOW)
    got: dict[str, str] = {r.metric: r.verdict for r in run.results}
    assert got[failing] == "Fail"
    assert {v for m, v in got.items() if m != failing} == {"Pass"}
    assert run.decision == "Fail"
    failed = first_failure(run.results)
    assert failed is not None
    assert failed.metric == failing
    if value is not None:
        assert failed.value == pytest.approx(value)
    assert failing in run.describe()


def test_prediction_psi_is_the_drift_modules_score_of_the_output_counts() -> None:
    candidate = sample("v2", outputs={"0": 300, "1": 600, "2": 100})
    result = next(r for r in evaluate(STABLE, candidate, T, NOW).results if r.metric == PSI)
    eps = 1e-4  # the drift module's documented smoothing: (p + eps) / (1 + bins * eps)
    p = (np.array([600, 380, 20]) / 1000 + eps) / (1 + 3 * eps)
    q = (np.array([300, 600, 100]) / 1000 + eps) / (1 + 3 * eps)
    assert result.value == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)
    assert result.samples == 1000


def test_output_bins_missing_on_one_side_count_as_zero() -> None:
    candidate = sample("v2", outputs={"0": 600, "1": 380, "2": 10, "3": 10})
    result = next(r for r in evaluate(STABLE, candidate, T, NOW).results if r.metric == PSI)
    assert result.verdict == "Pass"
    assert result.value is not None
    assert result.value > 0


@pytest.mark.parametrize(
    ("candidate", "metric"),
    [
        (replace(GOOD, requests=199, errors=100), ERROR_RATE),
        (replace(GOOD, latency=latency(4, n=150)), LATENCY),
        (replace(GOOD, labelled=100, correct=10), ACCURACY),
        (sample("v2", outputs={"0": 0, "1": 0, "2": 150}), PSI),
    ],
    ids=["error-rate", "latency", "accuracy", "prediction-psi"],
)
def test_below_min_samples_is_inconclusive_however_bad_the_figure(candidate: VersionSample, metric: str) -> None:
    run = evaluate(STABLE, candidate, T, NOW)
    result = next(r for r in run.results if r.metric == metric)
    assert result.verdict == "Inconclusive"
    assert "fewer than the 200 needed" in result.message
    assert result.samples < 200
    assert run.decision == "Inconclusive"


def test_below_min_samples_with_good_figures_is_inconclusive_never_pass() -> None:
    few = VersionSample(
        "v2", requests=199, latency=latency(1, n=199), labelled=199, correct=180,
        outputs=OutputCounts("drift:3", {"0": 120, "1": 75, "2": 4}),
    )  # fmt: skip
    assert set(verdicts(STABLE, few).values()) == {"Inconclusive"}


def test_exactly_at_the_threshold_passes() -> None:
    at_limit = replace(GOOD, errors=10, correct=440)  # 1 % errors, accuracy drop 0.02
    got = verdicts(STABLE, at_limit)
    assert got[ERROR_RATE] == "Pass"
    assert got[ACCURACY] == "Pass"


def test_without_any_feedback_accuracy_is_left_out_unless_required() -> None:
    stable = replace(STABLE, labelled=0, correct=0)
    candidate = replace(GOOD, labelled=0, correct=0)
    run = evaluate(stable, candidate, T, NOW)
    assert ACCURACY not in {r.metric for r in run.results}
    assert run.decision == "Pass"
    assert "no feedback label" in run.describe()
    required = evaluate(stable, candidate, replace(T, require_accuracy=True), NOW)
    assert {r.metric: r.verdict for r in required.results}[ACCURACY] == "Inconclusive"


def test_labels_for_stable_only_hold_the_step() -> None:
    got = verdicts(STABLE, replace(GOOD, labelled=0, correct=0))
    assert got[ACCURACY] == "Inconclusive"


def test_missing_data_is_inconclusive_with_the_reason() -> None:
    no_latency = replace(GOOD, latency=None)
    other_layout = replace(GOOD, outputs=OutputCounts("class", {"a": 1000}))
    run = evaluate(STABLE, no_latency, T, NOW)
    lat = next(r for r in run.results if r.metric == LATENCY)
    assert (lat.verdict, lat.value) == ("Inconclusive", None)
    assert "modelops_request_duration_seconds_bucket" in lat.message
    psi_result = next(r for r in evaluate(STABLE, other_layout, T, NOW).results if r.metric == PSI)
    assert psi_result.verdict == "Inconclusive"
    assert "not comparable" in psi_result.message
    no_outputs = next(r for r in evaluate(STABLE, replace(GOOD, outputs=None), T, NOW).results if r.metric == PSI)
    assert no_outputs.verdict == "Inconclusive"
    assert "no output counts for v2" in no_outputs.message


def test_shadow_agreement_and_mirror_errors() -> None:
    t = replace(T, shadow_min_samples=1000, min_agreement=0.9)
    good = ShadowSample("v2", mirrored=1000, errors=5, compared=2000, agreed=1900)
    run = evaluate(STABLE, GOOD, t, NOW, metrics=SHADOW_METRICS, shadow=good)
    assert ACCURACY not in {r.metric for r in run.results}
    assert run.decision == "Pass"
    byname = {r.metric: r for r in run.results}
    assert byname[AGREEMENT].value == pytest.approx(0.95)
    assert byname[SHADOW_ERRORS].value == pytest.approx(0.5)

    disagreeing = replace(good, agreed=1500)
    bad = evaluate(STABLE, GOOD, t, NOW, metrics=SHADOW_METRICS, shadow=disagreeing)
    assert {r.metric: r.verdict for r in bad.results}[AGREEMENT] == "Fail"
    erring = replace(good, errors=50)
    assert {r.metric: r.verdict for r in evaluate(STABLE, GOOD, t, NOW, metrics=SHADOW_METRICS, shadow=erring).results}[
        SHADOW_ERRORS
    ] == "Fail"
    few = replace(good, compared=999, agreed=0)
    assert {r.metric: r.verdict for r in evaluate(STABLE, GOOD, t, NOW, metrics=SHADOW_METRICS, shadow=few).results}[
        AGREEMENT
    ] == "Inconclusive"


def test_shadow_metrics_not_exported_are_inconclusive_naming_the_series() -> None:
    run = evaluate(STABLE, GOOD, T, NOW, metrics=SHADOW_METRICS, shadow=None)
    byname = {r.metric: r for r in run.results}
    for metric in (AGREEMENT, SHADOW_ERRORS):
        assert byname[metric].verdict == "Inconclusive"
        assert "modelops_shadow_agreed_rows_total" in byname[metric].message
    assert run.decision == "Inconclusive"


def _result(verdict: str) -> MetricResult:
    return MetricResult(ERROR_RATE, 0.0, 1.0, 300, verdict, "2026-11-30T12:00:00Z", "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdicts_in", "decision"),
    [
        ([], "Inconclusive"),
        (["Pass"], "Pass"),
        (["Pass", "Inconclusive"], "Inconclusive"),
        (["Inconclusive", "Fail", "Pass"], "Fail"),
    ],
)
def test_aggregate_decision(verdicts_in: list[str], decision: str) -> None:
    assert decide([_result(v) for v in verdicts_in]) == decision


@pytest.mark.parametrize(
    ("failed", "limit", "rolls_back"),
    [(0, 1, False), (1, 1, True), (1, 2, False), (2, 2, True), (1, 0, True), (0, 0, False)],
)
def test_failure_limit(failed: int, limit: int, rolls_back: bool) -> None:
    assert failures_exceeded(failed, limit) is rolls_back


def test_only_fail_decisions_count_towards_the_limit() -> None:
    count = 0
    for decision in ("Inconclusive", "Fail", "Pass", "Inconclusive", "Fail"):
        count = count_failures(count, decision)
    assert count == 2


def test_results_are_valid_status_entries() -> None:
    run = evaluate(STABLE, replace(GOOD, errors=20), T, NOW)
    status = ModelDeploymentStatus(analysis=run.to_status())
    dumped = status.model_dump(by_alias=True, exclude_none=True)["analysis"]
    assert dumped[0] == {
        "metric": "errorRate", "value": 2.0, "threshold": 1.0, "samples": 1000, "verdict": "Fail",
        "time": "2026-11-30T12:00:00Z",
    }  # fmt: skip


def test_thresholds_from_the_spec() -> None:
    strategy = Strategy.model_validate(
        {
            "type": "Shadow",
            "shadow": {"minSamples": 50},
            "analysis": {"minSamples": 10, "maxErrorRate": 5, "maxLatencyRatio": 2, "maxAccuracyDrop": 0.1,
                         "maxPredictionPSI": 0.3},
        }
    )  # fmt: skip
    t = Thresholds.from_spec(strategy)
    assert t == Thresholds(
        min_samples=10, max_error_rate=5.0, max_latency_ratio=2.0, max_accuracy_drop=0.1, max_prediction_psi=0.3,
        min_agreement=DEFAULT_MIN_AGREEMENT, shadow_min_samples=50,
    )  # fmt: skip


# -- what a source observed ----------------------------------------------------------------


def observation(**kwargs: object) -> Observation:
    return Observation(source="Pods", versions={"v1": STABLE, "v2": GOOD}, **kwargs)  # type: ignore[arg-type]


def test_a_baseline_observation_is_inconclusive_everywhere() -> None:
    run = evaluate_observation(observation(baseline=True), "v1", "v2", T, NOW)
    assert {r.verdict for r in run.results} == {"Inconclusive"}
    assert all("baseline" in r.message for r in run.results)


def test_an_unscraped_candidate_pod_turns_passes_into_inconclusive_but_keeps_failures() -> None:
    failures = (SourceFailure("churn-v2-abc", "timed out after 3s", version="v2"),)
    run = evaluate_observation(observation(failures=failures), "v1", "v2", T, NOW)
    assert {r.verdict for r in run.results} == {"Inconclusive"}
    assert "1 candidate pod(s) could not be scraped" in run.describe()

    bad = Observation(source="Pods", versions={"v1": STABLE, "v2": replace(GOOD, errors=50)}, failures=failures)
    assert evaluate_observation(bad, "v1", "v2", T, NOW).decision == "Fail"

    stable_pod_down = (SourceFailure("churn-v1-xyz", "refused", version="v1"),)
    assert evaluate_observation(observation(failures=stable_pod_down), "v1", "v2", T, NOW).decision == "Pass"


def test_a_version_the_source_never_saw_is_inconclusive() -> None:
    run = evaluate_observation(Observation(source="Prometheus", versions={"v1": STABLE}), "v1", "v2", T, NOW)
    assert run.decision == "Inconclusive"

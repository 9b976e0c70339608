"""Stable vs candidate over one interval → a verdict per metric, and the decision (pure).

Metrics (``metric`` in ``status.analysis``), each against a threshold of
``spec.strategy.analysis`` (see ``criteria.Thresholds``):

| metric            | value                                      | Fail when         | samples                  |
|-------------------|--------------------------------------------|-------------------|--------------------------|
| ``errorRate``     | candidate 5xx / requests, percent          | > maxErrorRate    | candidate requests       |
| ``latencyP99Ratio`` | candidate p99 / stable p99               | > maxLatencyRatio | min of both histograms   |
| ``accuracyDrop``  | stable accuracy - candidate accuracy       | > maxAccuracyDrop | min labelled rows        |
| ``predictionPSI`` | PSI of candidate's output counts vs stable's | > maxPredictionPSI | min predicted rows    |
| ``agreement``     | shadow: agreed rows / compared rows        | < min agreement   | compared rows            |
| ``shadowErrorRate`` | shadow: failed mirrored requests, percent | > maxErrorRate   | mirrored requests        |

Rules:

- Fewer samples than the metric's minimum (``minSamples``; shadow's ``minSamples`` for the
  two shadow metrics): ``Inconclusive``, whatever the value, never ``Pass``.
- Missing data (a metric not exported, no output counts, counts over different output
  layouts): ``Inconclusive`` with a message saying what is missing.
- Accuracy is left out when neither version got a feedback label in the interval (see
  ``Thresholds.require_accuracy``); labels for one version only are ``Inconclusive``.
- p99 is ``Histogram.quantile`` (PromQL's histogram_quantile), whichever source.
- PSI is ``modelops.drift.scoring.psi`` (smoothed), stable's counts as the reference.
- Decision: any ``Fail`` → ``Fail``; else any ``Inconclusive`` (or nothing analysed) →
  ``Inconclusive``; else ``Pass``. A ``NotMeasured`` result (``not_measured``: a metric the
  router gives no way to measure, recorded so that status shows it) takes no part in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np

from modelops.api.modeldeployment import AnalysisResult, ResultVerdict, Verdict
from modelops.conditions import now_rfc3339
from modelops.drift.scoring import psi
from modelops.drift.segments import Segments
from modelops.operator.analysis import names
from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.samples import ShadowSample, VersionSample
from modelops.operator.analysis.sources import Observation

MetricName = Literal["errorRate", "latencyP99Ratio", "accuracyDrop", "predictionPSI", "agreement", "shadowErrorRate"]
ERROR_RATE: MetricName = "errorRate"
LATENCY: MetricName = "latencyP99Ratio"
ACCURACY: MetricName = "accuracyDrop"
PSI: MetricName = "predictionPSI"
AGREEMENT: MetricName = "agreement"
SHADOW_ERRORS: MetricName = "shadowErrorRate"

CANARY_METRICS: tuple[MetricName, ...] = (ERROR_RATE, LATENCY, ACCURACY, PSI)
# No accuracy under Shadow: users never see the candidate's answers, so no label ever
# arrives for them and the metric could only hold the rollout.
SHADOW_METRICS: tuple[MetricName, ...] = (ERROR_RATE, LATENCY, PSI, AGREEMENT, SHADOW_ERRORS)


@dataclass(frozen=True)
class MetricResult:
    metric: MetricName
    value: float | None
    threshold: float
    samples: int
    verdict: ResultVerdict
    time: str
    message: str  # the figures in words, for conditions and Events

    def to_status(self) -> AnalysisResult:
        """This result as a ``status.analysis`` entry (validated by the CRD's model)."""
        return AnalysisResult(
            metric=self.metric,
            value=None if self.value is None else round(self.value, 6),
            threshold=self.threshold,
            samples=self.samples,
            verdict=self.verdict,
            time=self.time,
        )


@dataclass(frozen=True)
class AnalysisRun:
    """One interval's analysis: results per metric and what was left out, and why."""

    results: tuple[MetricResult, ...]
    skipped: tuple[str, ...] = ()

    @property
    def decision(self) -> Verdict:
        return decide(self.results)

    def to_status(self) -> list[AnalysisResult]:
        return [r.to_status() for r in self.results]

    def describe(self) -> str:
        """All figures on one line (an Event's or a condition's message)."""
        return describe(self.results, self.skipped)


def decide(results: Sequence[MetricResult]) -> Verdict:
    verdicts = {r.verdict for r in results if r.verdict != "NotMeasured"}
    if "Fail" in verdicts:
        return "Fail"
    if "Inconclusive" in verdicts or not verdicts:
        return "Inconclusive"
    return "Pass"


def count_failures(failed_analyses: int, decision: Verdict) -> int:
    """The count of failed analyses after one more decision (Inconclusive is no failure)."""
    return failed_analyses + 1 if decision == "Fail" else failed_analyses


def failures_exceeded(failed_analyses: int, failure_limit: int) -> bool:
    """Whether ``failed_analyses`` roll the candidate back under ``failureLimit``.

    The issue's rule is "``failureLimit`` failed analyses roll back": the count reaching
    the limit rolls back. A limit of 0 would roll back before any failure, so 0 and 1 both
    mean the first failed analysis rolls back. Failures count over the whole rollout (as
    Argo Rollouts' failureLimit), not in a row: a Pass in between does not reset them.
    """
    return failed_analyses >= max(failure_limit, 1)


def describe(results: Sequence[MetricResult], skipped: Sequence[str] = ()) -> str:
    parts = [f"{r.metric} {r.verdict}: {r.message}" for r in results]
    parts.extend(skipped)
    return "; ".join(parts) if parts else "nothing analysed"


def first_failure(results: Sequence[MetricResult]) -> MetricResult | None:
    """The failing metric to name in a rollback's condition and Event."""
    return next((r for r in results if r.verdict == "Fail"), None)


def not_measured(metric: MetricName, threshold: float, now: datetime, why: str) -> MetricResult:
    """A metric recorded as not measured (no value, no samples), ``why`` in its message."""
    return MetricResult(metric, None, threshold, 0, "NotMeasured", now_rfc3339(now), why)


# -- one interval ------------------------------------------------------------------------


def evaluate(
    stable: VersionSample,
    candidate: VersionSample,
    thresholds: Thresholds,
    now: datetime,
    *,
    metrics: Sequence[MetricName] = CANARY_METRICS,
    shadow: ShadowSample | None = None,
) -> AnalysisRun:
    """Verdicts for ``metrics`` from the two versions' samples of the same interval."""
    at = now_rfc3339(now)
    results: list[MetricResult] = []
    skipped: list[str] = []
    for metric in metrics:
        if metric == ERROR_RATE:
            results.append(_error_rate(candidate, thresholds, at))
        elif metric == LATENCY:
            results.append(_latency(stable, candidate, thresholds, at))
        elif metric == ACCURACY:
            if not (stable.labelled or candidate.labelled or thresholds.require_accuracy):
                skipped.append("accuracyDrop not analysed: no feedback label for either version in the interval")
            else:
                results.append(_accuracy(stable, candidate, thresholds, at))
        elif metric == PSI:
            results.append(_psi(stable, candidate, thresholds, at))
        elif metric == AGREEMENT:
            results.append(_agreement(candidate.version, shadow, thresholds, at))
        elif metric == SHADOW_ERRORS:
            results.append(_shadow_errors(candidate.version, shadow, thresholds, at))
        else:  # pragma: no cover - MetricName is closed; a new name needs a branch here
            raise ValueError(f"unknown analysis metric {metric!r}")
    return AnalysisRun(results=tuple(results), skipped=tuple(skipped))


def evaluate_observation(
    observation: Observation,
    stable: str,
    candidate: str,
    thresholds: Thresholds,
    now: datetime,
    *,
    metrics: Sequence[MetricName] = CANARY_METRICS,
) -> AnalysisRun:
    """``evaluate`` on what a metrics source observed, with its gaps taken into account:

    - a baseline scrape (no interval yet) makes every metric Inconclusive;
    - a candidate pod that could not be scraped makes no metric Pass: its errors and
      latency are exactly what is unknown (its Fail figures from the other pods stand);
    - the source's notes (metrics not exported, and the like) are kept in ``skipped``.
    """
    run = evaluate(
        observation.sample(stable),
        observation.sample(candidate),
        thresholds,
        now,
        metrics=metrics,
        shadow=observation.shadow.get(candidate),
    )
    notes = tuple(observation.notes)
    if observation.baseline:
        results = tuple(
            replace(r, verdict="Inconclusive", message="first scrape of the pods (baseline): figures next interval")
            for r in run.results
        )
        return AnalysisRun(results=results, skipped=run.skipped + notes)
    unscraped = observation.failed_pods(candidate)
    if unscraped:
        why = f"{unscraped} candidate pod(s) could not be scraped"
        results = tuple(
            replace(r, verdict="Inconclusive", message=f"{r.message} ({why})") if r.verdict == "Pass" else r
            for r in run.results
        )
        return AnalysisRun(results=results, skipped=run.skipped + notes)
    return AnalysisRun(results=run.results, skipped=run.skipped + notes)


# -- one metric each -----------------------------------------------------------------------


def _verdict(value: float | None, samples: int, minimum: int, failed: bool) -> Verdict:
    if value is None or samples < minimum:
        return "Inconclusive"
    return "Fail" if failed else "Pass"


def _above(value: float, limit: float) -> bool:
    # A figure exactly at the limit passes; a ratio of integers rarely lands exactly on a
    # decimal limit (0.9 - 0.88 = 0.020000000000000018), so allow for the rounding.
    return value > limit + 1e-9 * max(1.0, abs(limit))


def _below(value: float, limit: float) -> bool:
    return value < limit - 1e-9 * max(1.0, abs(limit))


def _few(samples: int, minimum: int, what: str) -> str:
    return f"{samples} {what}, fewer than the {minimum} needed"


def _error_rate(candidate: VersionSample, t: Thresholds, at: str) -> MetricResult:
    rate = candidate.error_rate
    n = candidate.requests
    if n < t.min_samples:
        message = _few(n, t.min_samples, "candidate requests")
    else:
        message = f"{candidate.errors} of {n} candidate requests failed ({rate:.3g}%, limit {t.max_error_rate:g}%)"
    failed = rate is not None and _above(rate, t.max_error_rate)
    return MetricResult(ERROR_RATE, rate, t.max_error_rate, n, _verdict(rate, n, t.min_samples, failed), at, message)


def _latency(stable: VersionSample, candidate: VersionSample, t: Thresholds, at: str) -> MetricResult:
    q = t.latency_quantile
    h_stable, h_candidate = stable.latency, candidate.latency
    if h_stable is None or h_candidate is None:
        missing = ", ".join(s.version for s in (stable, candidate) if s.latency is None)
        return MetricResult(
            LATENCY, None, t.max_latency_ratio, 0, "Inconclusive", at,
            f"no latency histogram ({names.LATENCY_BUCKET}) for {missing}",
        )  # fmt: skip
    n = min(h_stable.total, h_candidate.total)
    p_stable = h_stable.quantile(q)
    p_candidate = h_candidate.quantile(q)
    if p_stable is None or p_candidate is None or n < t.min_samples:
        ratio = p_candidate / p_stable if p_stable and p_candidate is not None else None
        return MetricResult(
            LATENCY, ratio, t.max_latency_ratio, n, "Inconclusive", at, _few(n, t.min_samples, "timed requests")
        )
    if p_stable <= 0:
        return MetricResult(
            LATENCY, None, t.max_latency_ratio, n, "Inconclusive", at, "stable's p99 is 0: no ratio to take"
        )
    ratio = p_candidate / p_stable
    message = (
        f"p{q * 100:g} candidate {p_candidate * 1000:.3g} ms / stable {p_stable * 1000:.3g} ms = {ratio:.3g} "
        f"(limit {t.max_latency_ratio:g})"
    )
    verdict = _verdict(ratio, n, t.min_samples, _above(ratio, t.max_latency_ratio))
    return MetricResult(LATENCY, ratio, t.max_latency_ratio, n, verdict, at, message)


def _accuracy(stable: VersionSample, candidate: VersionSample, t: Thresholds, at: str) -> MetricResult:
    n = min(stable.labelled, candidate.labelled)
    a_stable, a_candidate = stable.accuracy, candidate.accuracy
    drop = a_stable - a_candidate if a_stable is not None and a_candidate is not None else None
    if drop is None or n < t.min_samples:
        message = _few(n, t.min_samples, "labelled rows") + (
            f" (stable {stable.labelled}, candidate {candidate.labelled})"
        )
        return MetricResult(ACCURACY, drop, t.max_accuracy_drop, n, "Inconclusive", at, message)
    message = (
        f"accuracy stable {a_stable:.4f} ({stable.correct}/{stable.labelled}), candidate {a_candidate:.4f} "
        f"({candidate.correct}/{candidate.labelled}): drop {drop:.4f} (limit {t.max_accuracy_drop:g})"
    )
    verdict = _verdict(drop, n, t.min_samples, _above(drop, t.max_accuracy_drop))
    return MetricResult(ACCURACY, drop, t.max_accuracy_drop, n, verdict, at, message)


def _psi(stable: VersionSample, candidate: VersionSample, t: Thresholds, at: str) -> MetricResult:
    so, co = stable.outputs, candidate.outputs
    if so is None or co is None:
        missing = ", ".join(s.version for s in (stable, candidate) if s.outputs is None)
        return MetricResult(PSI, None, t.max_prediction_psi, 0, "Inconclusive", at, f"no output counts for {missing}")
    n = min(so.total, co.total)
    if so.layout != co.layout:
        return MetricResult(
            PSI, None, t.max_prediction_psi, n, "Inconclusive", at,
            f"output counts are not comparable: stable's bins are {so.layout}, candidate's {co.layout}",
        )  # fmt: skip
    keys = sorted(set(so.counts) | set(co.counts))
    reference = np.array([so.counts.get(k, 0) for k in keys], dtype=np.int64)
    current = np.array([co.counts.get(k, 0) for k in keys], dtype=np.int64)
    value = float(psi(reference, current, Segments([0, len(keys)]))[0]) if keys and n else None
    if value is None or n < t.min_samples:
        return MetricResult(
            PSI, value, t.max_prediction_psi, n, "Inconclusive", at, _few(n, t.min_samples, "predicted rows")
        )
    message = f"PSI {value:.4f}, candidate's {co.total} outputs vs stable's {so.total} (limit {t.max_prediction_psi:g})"
    verdict = _verdict(value, n, t.min_samples, _above(value, t.max_prediction_psi))
    return MetricResult(PSI, value, t.max_prediction_psi, n, verdict, at, message)


def _no_shadow(metric: MetricName, threshold: float, candidate: str, at: str) -> MetricResult:
    return MetricResult(
        metric, None, threshold, 0, "Inconclusive", at,
        f"no shadow metrics for candidate {candidate} from the stable pods "
        f"({names.SHADOW_ROWS}, {names.SHADOW_AGREED}, {names.SHADOW_REQUESTS} with candidate={candidate!r})",
    )  # fmt: skip


def _agreement(candidate: str, shadow: ShadowSample | None, t: Thresholds, at: str) -> MetricResult:
    if shadow is None:
        return _no_shadow(AGREEMENT, t.min_agreement, candidate, at)
    n = shadow.compared
    value = shadow.agreed / n if n else None
    if n < t.shadow_min_samples:
        message = _few(n, t.shadow_min_samples, "compared rows")
    else:
        message = f"candidate agreed with stable on {shadow.agreed} of {n} rows ({value:.4f}, min {t.min_agreement:g})"
    failed = value is not None and _below(value, t.min_agreement)
    verdict = _verdict(value, n, t.shadow_min_samples, failed)
    return MetricResult(AGREEMENT, value, t.min_agreement, n, verdict, at, message)


def _shadow_errors(candidate: str, shadow: ShadowSample | None, t: Thresholds, at: str) -> MetricResult:
    if shadow is None:
        return _no_shadow(SHADOW_ERRORS, t.max_error_rate, candidate, at)
    n = shadow.mirrored
    rate = 100.0 * shadow.errors / n if n else None
    if n < t.shadow_min_samples:
        message = _few(n, t.shadow_min_samples, "mirrored requests")
    else:
        message = f"{shadow.errors} of {n} mirrored requests failed ({rate:.3g}%, limit {t.max_error_rate:g}%)"
    failed = rate is not None and _above(rate, t.max_error_rate)
    verdict = _verdict(rate, n, t.shadow_min_samples, failed)
    return MetricResult(SHADOW_ERRORS, rate, t.max_error_rate, n, verdict, at, message)

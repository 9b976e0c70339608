"""A/B test between stable and candidate: a two-proportion z-test (pure).

Each arm is a count of successes over trials:

- ``accuracy``: correct feedback rows over labelled rows (higher is better);
- ``errorRate``: 5xx answers over requests (lower is better).

The test is the pooled two-sided z-test (statsmodels' ``proportions_ztest`` default):
``p = (x_s + x_c) / (n_s + n_c)``, ``z = (x_c/n_c - x_s/n_s) / sqrt(p (1 - p) (1/n_s + 1/n_c))``,
``p-value = 2 * scipy.stats.norm.sf(|z|)``. A positive statistic means the candidate's
proportion is the higher one. ``z**2`` equals the Pearson chi-square statistic of the
2 x 2 table without continuity correction, and the p-values agree; the tests check this.

Outcome: below ``minSamples`` in either arm → ``Inconclusive`` (figures shown, no
winner); p-value below ``1 - confidence`` → the better arm wins; otherwise
``NoDifference`` (stable kept, as the issue asks). When every trial of both arms is a
success (or none is) the pooled variance is 0: the proportions are equal, the statistic
0 and the p-value 1 (no difference), not a division by zero. ``minDuration`` is the
strategy's to check; this module sees counts only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from scipy import stats

from modelops.api.modeldeployment import ABSamples, ABTestStatus
from modelops.operator.analysis.samples import VersionSample

ABMetric = Literal["accuracy", "errorRate"]
AB_METRICS: tuple[str, ...] = get_args(ABMetric)
ABVerdict = Literal["CandidateWins", "StableWins", "NoDifference", "Inconclusive"]
_HIGHER_IS_BETTER: dict[str, bool] = {"accuracy": True, "errorRate": False}


class ABSpecError(ValueError):
    """An A/B test the spec cannot run; ``field`` is the spec path, reason InvalidSpec."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = "InvalidSpec"


def check_metric(metric: str) -> ABMetric:
    if metric == "accuracy":
        return "accuracy"
    if metric == "errorRate":
        return "errorRate"
    raise ABSpecError(
        "spec.strategy.abTest.metric",
        f"spec.strategy.abTest.metric {metric!r} is not one the serving pods report: use one of {list(AB_METRICS)}",
    )


@dataclass(frozen=True)
class Arm:
    successes: int
    trials: int

    def __post_init__(self) -> None:
        if self.trials < 0 or not 0 <= self.successes <= self.trials:
            raise ValueError(f"an arm needs 0 <= successes <= trials, got {self.successes}/{self.trials}")

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def __add__(self, other: Arm) -> Arm:
        """Counts of two intervals together (an A/B test accumulates until minSamples)."""
        return Arm(self.successes + other.successes, self.trials + other.trials)


def arm(sample: VersionSample, metric: ABMetric) -> Arm:
    """The arm of one version's interval sample for ``metric``."""
    if metric == "accuracy":
        return Arm(sample.correct, sample.labelled)
    return Arm(sample.errors, sample.requests)


def z_test(stable: Arm, candidate: Arm) -> tuple[float, float]:
    """(statistic, two-sided p-value) of the pooled two-proportion z-test; both arms need trials."""
    if stable.trials == 0 or candidate.trials == 0:
        raise ValueError("a z-test needs at least one trial in each arm")
    pooled = (stable.successes + candidate.successes) / (stable.trials + candidate.trials)
    variance = pooled * (1.0 - pooled) * (1.0 / stable.trials + 1.0 / candidate.trials)
    difference = candidate.successes / candidate.trials - stable.successes / stable.trials
    if variance <= 0.0:
        # all successes or all failures in both arms: equal proportions, nothing to test
        return 0.0, 1.0
    statistic = difference / math.sqrt(variance)
    return statistic, float(2.0 * stats.norm.sf(abs(statistic)))


@dataclass(frozen=True)
class ABOutcome:
    metric: ABMetric
    verdict: ABVerdict
    winner: str | None  # the winning version's name
    statistic: float | None
    p_value: float | None
    stable: Arm
    candidate: Arm
    message: str

    def to_status(self) -> ABTestStatus:
        return ABTestStatus(
            winner=self.winner,
            statistic=None if self.statistic is None else round(self.statistic, 6),
            p_value=None if self.p_value is None else _round_p(self.p_value),
            samples=ABSamples(stable=self.stable.trials, candidate=self.candidate.trials),
            successes=ABSamples(stable=self.stable.successes, candidate=self.candidate.successes),
        )


def _round_p(p: float) -> float:
    # six significant digits: a p-value of 1e-12 must not print as 0
    return float(f"{p:.6g}")


def compare(
    stable: Arm,
    candidate: Arm,
    *,
    metric: ABMetric,
    confidence: float,
    min_samples: int,
    stable_version: str,
    candidate_version: str,
) -> ABOutcome:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    what = "labelled rows" if metric == "accuracy" else "requests"
    rates = (
        f"{metric} stable {_pct(stable)} of {stable.trials} {what}, candidate {_pct(candidate)} of {candidate.trials}"
    )
    statistic: float | None = None
    p_value: float | None = None
    if stable.trials and candidate.trials:
        statistic, p_value = z_test(stable, candidate)
    figures = rates if statistic is None else f"{rates}: z={statistic:.3f}, p={p_value:.3g}"
    fewest = min(stable.trials, candidate.trials)
    if fewest < min_samples or statistic is None or p_value is None:
        return ABOutcome(
            metric, "Inconclusive", None, statistic, p_value, stable, candidate,
            f"{figures}; {fewest} {what} in the smaller arm, fewer than the {min_samples} needed",
        )  # fmt: skip
    alpha = 1.0 - confidence
    if p_value >= alpha:
        return ABOutcome(
            metric, "NoDifference", None, statistic, p_value, stable, candidate,
            f"{figures}; no significant difference at confidence {confidence:g}",
        )  # fmt: skip
    candidate_higher = statistic > 0
    candidate_better = candidate_higher == _HIGHER_IS_BETTER[metric]
    verdict: ABVerdict = "CandidateWins" if candidate_better else "StableWins"
    winner = candidate_version if candidate_better else stable_version
    return ABOutcome(
        metric, verdict, winner, statistic, p_value, stable, candidate,
        f"{figures}; {winner} wins at confidence {confidence:g}",
    )  # fmt: skip


def _pct(a: Arm) -> str:
    return "n/a" if a.rate is None else f"{a.rate:.4f}"

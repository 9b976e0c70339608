"""A/B test: the pooled two-proportion z-test against independent scipy computations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from modelops.api.modeldeployment import ModelDeploymentStatus
from modelops.operator.analysis.abtest import ABOutcome, ABSpecError, Arm, arm, check_metric, compare, z_test
from modelops.operator.analysis.samples import VersionSample


def chi2_reference(stable: Arm, candidate: Arm) -> tuple[float, float]:
    """z**2 and p of the pooled z-test are Pearson's chi-square on the 2x2 table."""
    table = [
        [stable.successes, stable.trials - stable.successes],
        [candidate.successes, candidate.trials - candidate.successes],
    ]
    chi2, p, _dof, _expected = stats.chi2_contingency(table, correction=False)
    return float(chi2), float(p)


def textbook(stable: Arm, candidate: Arm) -> tuple[float, float]:
    """The statsmodels proportions_ztest formula (pooled, two-sided), written out."""
    p1, p2 = candidate.successes / candidate.trials, stable.successes / stable.trials
    pooled = (stable.successes + candidate.successes) / (stable.trials + candidate.trials)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / candidate.trials + 1 / stable.trials))
    return z, 2 * (1 - stats.norm.cdf(abs(z)))


@pytest.mark.parametrize(
    ("stable", "candidate"),
    [
        (Arm(1800, 2000), Arm(1750, 2000)),
        (Arm(900, 1000), Arm(950, 1000)),
        (Arm(5, 3000), Arm(25, 2500)),
        (Arm(1, 7), Arm(6, 9)),
    ],
)
def test_statistic_and_p_value_equal_scipy(stable: Arm, candidate: Arm) -> None:
    z, p = z_test(stable, candidate)
    chi2, p_chi2 = chi2_reference(stable, candidate)
    assert z**2 == pytest.approx(chi2, rel=1e-9)
    assert p == pytest.approx(p_chi2, rel=1e-9, abs=1e-300)
    z_ref, p_ref = textbook(stable, candidate)
    assert z == pytest.approx(z_ref, rel=1e-12)
    assert p == pytest.approx(p_ref, rel=1e-6, abs=1e-12)


@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_statistic_and_p_value_equal_scipy_for_any_counts(s: tuple[int, int], c: tuple[int, int]) -> None:
    stable, candidate = Arm(*s), Arm(*c)
    z, p = z_test(stable, candidate)
    pooled = (s[0] + c[0]) / (s[1] + c[1])
    if pooled in (0.0, 1.0):
        assert (z, p) == (0.0, 1.0)
        return
    chi2, p_chi2 = chi2_reference(stable, candidate)
    assert z**2 == pytest.approx(chi2, rel=1e-7, abs=1e-9)
    assert p == pytest.approx(p_chi2, rel=1e-6, abs=1e-12)
    assert math.copysign(1, z) == math.copysign(1, c[0] / c[1] - s[0] / s[1]) or z == 0


def outcome(stable: Arm, candidate: Arm, metric: str = "accuracy", min_samples: int = 1000) -> ABOutcome:
    return compare(
        stable, candidate, metric=check_metric(metric), confidence=0.95, min_samples=min_samples,
        stable_version="v1", candidate_version="v2",
    )  # fmt: skip


def test_a_better_candidate_wins_on_accuracy() -> None:
    o = outcome(Arm(1800, 2000), Arm(1900, 2000))
    assert (o.verdict, o.winner) == ("CandidateWins", "v2")
    assert o.statistic is not None
    assert o.statistic > 0
    assert o.p_value is not None
    assert o.p_value < 0.05


def test_a_worse_candidate_loses_on_accuracy() -> None:
    o = outcome(Arm(1900, 2000), Arm(1800, 2000))
    assert (o.verdict, o.winner) == ("StableWins", "v1")


def test_lower_error_rate_is_better() -> None:
    o = outcome(Arm(100, 5000), Arm(20, 5000), metric="errorRate")
    assert (o.verdict, o.winner) == ("CandidateWins", "v2")
    assert o.statistic is not None
    assert o.statistic < 0  # the candidate's proportion is the lower one
    worse = outcome(Arm(20, 5000), Arm(100, 5000), metric="errorRate")
    assert (worse.verdict, worse.winner) == ("StableWins", "v1")


def test_no_significant_difference_has_no_winner() -> None:
    o = outcome(Arm(1800, 2000), Arm(1810, 2000))
    assert (o.verdict, o.winner) == ("NoDifference", None)
    assert o.p_value is not None
    assert o.p_value > 0.05
    assert "no significant difference" in o.message


def test_zero_variance_is_no_difference_not_a_division_by_zero() -> None:
    o = outcome(Arm(2000, 2000), Arm(1500, 1500))
    assert (o.verdict, o.winner, o.statistic, o.p_value) == ("NoDifference", None, 0.0, 1.0)
    none = outcome(Arm(0, 5000), Arm(0, 5000), metric="errorRate")
    assert (none.verdict, none.winner) == ("NoDifference", None)


def test_zero_samples_is_inconclusive_without_figures() -> None:
    o = outcome(Arm(0, 0), Arm(10, 20))
    assert (o.verdict, o.winner, o.statistic, o.p_value) == ("Inconclusive", None, None, None)
    with pytest.raises(ValueError, match="at least one trial"):
        z_test(Arm(0, 0), Arm(1, 1))


def test_below_min_samples_is_inconclusive_even_when_significant() -> None:
    o = outcome(Arm(400, 999), Arm(990, 1000))
    assert (o.verdict, o.winner) == ("Inconclusive", None)
    assert o.p_value is not None
    assert o.p_value < 1e-10  # figures shown while waiting
    assert "fewer than the 1000 needed" in o.message


def test_outcome_is_a_valid_status_entry() -> None:
    o = outcome(Arm(1800, 2000), Arm(1900, 2000))
    status = ModelDeploymentStatus(ab_test=o.to_status())
    dumped = status.model_dump(by_alias=True)["abTest"]
    z, p = z_test(Arm(1800, 2000), Arm(1900, 2000))
    assert dumped == {
        "winner": "v2", "statistic": round(z, 6), "pValue": float(f"{p:.6g}"),
        "samples": {"stable": 2000, "candidate": 2000},
        "successes": {"stable": 1800, "candidate": 1900},
    }  # fmt: skip


def test_arms_from_samples_and_accumulation() -> None:
    s = VersionSample("v1", requests=100, errors=3, labelled=40, correct=30)
    assert arm(s, "accuracy") == Arm(30, 40)
    assert arm(s, "errorRate") == Arm(3, 100)
    assert Arm(30, 40) + Arm(5, 10) == Arm(35, 50)
    with pytest.raises(ValueError, match="successes <= trials"):
        Arm(5, 4)


def test_an_unknown_metric_names_the_field() -> None:
    with pytest.raises(ABSpecError, match=r"spec\.strategy\.abTest\.metric 'roc_auc'") as info:
        check_metric("roc_auc")
    assert info.value.field == "spec.strategy.abTest.metric"
    assert info.value.reason == "InvalidSpec"

"""Figures against their limits, and which failing figure is the worst."""

from __future__ import annotations

import math

import pytest

from modelops.validation.errors import CannotValidateError
from modelops.validation.figures import Figure, failing, finite, limited, worst_failing


def test_a_minimum_and_a_maximum_each_make_a_figure() -> None:
    low, high = limited("r2", 0.5, min=0.6, max=0.9)
    assert (low.bound, low.limit, low.verdict) == ("min", 0.6, "Fail")
    assert (high.bound, high.limit, high.verdict) == ("max", 0.9, "Pass")
    assert limited("mae", 3.0, max=2.0)[0].verdict == "Fail"
    assert limited("mae", 2.0, max=2.0)[0].verdict == "Pass"  # the limit itself is allowed


def test_relative_violation_is_the_distance_past_the_limit_over_the_limit() -> None:
    assert Figure("recall", 0.6, 0.8, "min").relative_violation == pytest.approx(0.25)
    assert Figure("demographic_parity_difference", 0.15, 0.1, "max").relative_violation == pytest.approx(0.5)
    assert Figure("accuracy", 0.9, 0.8, "min").relative_violation == 0.0
    assert Figure("drop", 0.01, 0.0, "max").relative_violation == math.inf
    assert Figure("r2", -0.5, -0.25, "min").relative_violation == pytest.approx(1.0)  # |limit| for negatives


def test_the_worst_failing_figure_is_the_largest_relative_violation_first_on_ties() -> None:
    recall = Figure("recall", 0.6, 0.8, "min")  # 0.25
    parity = Figure("demographic_parity_difference", 0.15, 0.1, "max", "gender")  # 0.5, though 0.05 absolute
    twin = Figure("equalized_odds_difference", 0.15, 0.1, "max", "gender")  # 0.5 too, listed later
    passing = Figure("accuracy", 0.9, 0.8, "min")
    assert worst_failing([recall, passing, parity, twin]) is parity
    assert failing([recall, passing, parity, twin]) == [parity, twin, recall]
    assert worst_failing([passing]) is None


def test_describe_names_the_figure_its_group_and_its_limit() -> None:
    assert (Figure("recall", 0.41, 0.5, "min", "gender=F").describe()
            == "recall of gender=F is 0.41, below the minimum 0.5")
    assert (Figure("demographic_parity_difference", 0.2, 0.1, "max", "gender").describe()
            == "demographic_parity_difference across 'gender' is 0.2, above the maximum 0.1")


def test_a_figure_that_is_not_a_number_is_undefined_not_a_pass() -> None:
    with pytest.raises(CannotValidateError) as caught:
        finite(float("nan"), "recall of gender=F")
    assert caught.value.problem == "MetricUndefined"
    assert "recall of gender=F" in caught.value.message

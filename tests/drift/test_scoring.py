"""Scores from bin counts agree with scipy / plain numpy on the raw rows behind them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from modelops.drift import scoring
from modelops.drift.binning import Binner
from modelops.drift.layout import ReferenceLayout
from modelops.drift.profile import BinnedProfile, Profile, categorical_profile, numeric_profile
from modelops.drift.segments import Segments

Floats = npt.NDArray[np.float64]


@dataclass
class Sample:
    reference: Floats
    current: Floats
    feature: BinnedProfile
    ref_counts: npt.NDArray[np.int64]
    cur_counts: npt.NDArray[np.int64]


@st.composite
def numeric_samples(draw: st.DrawFn) -> Sample:
    """Raw reference and current columns (sometimes with ties and NaN), their profile and
    the counts the serving Binner produces for the current column."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_ref = draw(st.integers(2, 400))
    n_cur = draw(st.integers(2, 400))
    shift = draw(st.floats(-1.5, 1.5))
    scale = draw(st.floats(0.5, 2.0))
    reference = rng.normal(size=n_ref)
    current = rng.normal(shift, scale, size=n_cur)
    if draw(st.booleans()):  # few distinct values: ties, values exactly on edges
        reference = np.round(reference * 2) / 2
        current = np.round(current * 2) / 2
    for col in (reference, current):
        col[rng.random(col.size) < draw(st.sampled_from([0.0, 0.1]))] = np.nan
    feature = numeric_profile("x", reference, n_bins=draw(st.integers(1, 12)))
    profile = Profile(features=(feature,), output=feature)
    cur_counts = Binner(profile).feature_counts(current[:, None])
    return Sample(reference, current, feature, np.array(feature.reference, dtype=np.int64), cur_counts)


def _one(n_bins: int) -> Segments:
    return Segments([0, n_bins])


def _values(s: Sample) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Segments]:
    return s.ref_counts[:-1], s.cur_counts[:-1], _one(s.ref_counts.size - 1)


def _counts_by_masks(edges: tuple[float, ...], x: Floats) -> npt.NDArray[np.int64]:
    """Independent count: one boolean mask per right-closed bin, NaN last."""
    bounds = [-np.inf, *edges, np.inf]
    inner = [np.count_nonzero((x > lo) & (x <= hi)) for lo, hi in itertools.pairwise(bounds)]
    return np.array([*inner, np.count_nonzero(np.isnan(x))], dtype=np.int64)


@settings(max_examples=150, deadline=None)
@given(numeric_samples())
def test_psi_equals_psi_computed_from_the_raw_rows(s: Sample) -> None:
    ref = _counts_by_masks(s.feature.edges, s.reference)
    cur = _counts_by_masks(s.feature.edges, s.current)
    np.testing.assert_array_equal(cur, s.cur_counts)
    eps = scoring.PSI_EPSILON
    p = (ref / ref.sum() + eps) / (1 + eps * ref.size)
    q = (cur / cur.sum() + eps) / (1 + eps * cur.size)
    exact = float(np.sum((q - p) * np.log(q / p)))
    ours = float(scoring.psi(s.ref_counts, s.cur_counts, _one(s.ref_counts.size))[0])
    assert abs(ours - exact) <= 1e-9


@settings(max_examples=150, deadline=None)
@given(numeric_samples())
def test_binned_ks_brackets_the_exact_two_sample_statistic(s: Sample) -> None:
    ref_rows = s.reference[~np.isnan(s.reference)]
    cur_rows = s.current[~np.isnan(s.current)]
    ref, cur, seg = _values(s)
    d_bin, d_upper = (float(v[0]) for v in scoring.ks_bracket(ref, cur, seg))
    assert float(scoring.ks(ref, cur, seg)[0]) == d_bin
    if ref_rows.size == 0 or cur_rows.size == 0:
        assert (d_bin, d_upper) == (0.0, 1.0)
        return
    # The statistic is the same by every method; "asymp" only skips an exact p-value that scipy
    # may fail to compute (a RuntimeWarning, an error under filterwarnings=error).
    exact = float(stats.ks_2samp(ref_rows, cur_rows, method="asymp").statistic)
    assert d_bin <= exact + 1e-12
    assert exact <= d_upper + 1e-12
    # the stated bound: the largest bin mass of either sample
    largest_bin = max(np.max(ref / ref.sum()), np.max(cur / cur.sum()))
    assert d_upper - d_bin <= largest_bin + 1e-12


@settings(max_examples=150, deadline=None)
@given(numeric_samples())
def test_jensen_shannon_equals_scipy_on_the_same_histograms(s: Sample) -> None:
    ours = float(scoring.jensen_shannon(s.ref_counts, s.cur_counts, _one(s.ref_counts.size))[0])
    exact = float(distance.jensenshannon(s.ref_counts, s.cur_counts, base=2))
    assert abs(ours - exact) <= 1e-9


@settings(max_examples=150, deadline=None)
@given(numeric_samples())
def test_chisquare_equals_scipy_contingency_test(s: Sample) -> None:
    table = np.stack([s.ref_counts, s.cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    statistic, dof, p_value = (v[0] for v in scoring.chisquare(s.ref_counts, s.cur_counts, _one(s.ref_counts.size)))
    if table.shape[1] < 2:
        assert (statistic, dof, p_value) == (0.0, 0, 1.0)
        return
    exact = stats.chi2_contingency(table, correction=False)
    assert dof == exact.dof
    assert abs(statistic - exact.statistic) <= 1e-9 * max(1.0, exact.statistic)
    assert abs(p_value - exact.pvalue) <= 1e-9


@settings(max_examples=150, deadline=None)
@given(numeric_samples())
def test_wasserstein_equals_scipy_on_bin_positions(s: Sample) -> None:
    ref, cur, seg = _values(s)
    positions = scoring.wasserstein_positions(np.asarray(s.feature.edges))
    ours = float(scoring.wasserstein(ref, cur, seg, scoring.wasserstein_widths(positions, seg))[0])
    if ref.sum() == 0 or cur.sum() == 0:
        assert ours == 0.0
        return
    exact = stats.wasserstein_distance(positions, positions, ref, cur)
    assert abs(ours - exact) <= 1e-9
    assert 0.0 <= ours <= 1.0


@st.composite
def count_vectors(draw: st.DrawFn) -> tuple[list[int], list[list[int]], list[list[int]]]:
    sizes = draw(st.lists(st.integers(2, 8), min_size=1, max_size=6))
    counts = st.integers(0, 50) | st.just(0)
    ref = [draw(st.lists(counts, min_size=n, max_size=n)) for n in sizes]
    cur = [draw(st.lists(counts, min_size=n, max_size=n)) for n in sizes]
    return sizes, ref, cur


def _all_scores(ref: npt.NDArray[np.int64], cur: npt.NDArray[np.int64], sizes: list[int]) -> list[Floats]:
    seg = Segments(np.concatenate(([0], np.cumsum(sizes))))
    features = tuple(
        BinnedProfile(f"f{i}", "numeric", edges=tuple(float(e) for e in range(n - 2)), reference=(0,) * n)
        for i, n in enumerate(sizes)
    )
    layout = ReferenceLayout.of(features)
    mask, values = seg.drop_last()
    return [
        scoring.psi(ref, cur, seg),
        scoring.jensen_shannon(ref, cur, seg),
        *scoring.ks_bracket(ref[mask], cur[mask], values),
        scoring.wasserstein(ref[mask], cur[mask], values, layout.widths),
        *(np.asarray(v, dtype=np.float64) for v in scoring.chisquare(ref, cur, seg)),
    ]


@settings(max_examples=150, deadline=None)
@given(count_vectors())
def test_many_features_at_once_score_as_each_alone_and_never_nan(
    data: tuple[list[int], list[list[int]], list[list[int]]],
) -> None:
    sizes, ref, cur = data
    together = _all_scores(np.concatenate(ref), np.concatenate(cur), sizes)
    for scores in together:
        assert np.all(np.isfinite(scores))
        assert np.all(scores >= 0)
    for i, n in enumerate(sizes):
        alone = _all_scores(np.array(ref[i]), np.array(cur[i]), [n])
        for t, a in zip(together, alone, strict=True):
            assert abs(float(t[i]) - float(a[0])) <= 1e-12


@settings(max_examples=100, deadline=None)
@given(count_vectors(), st.integers(1, 20))
def test_identical_distributions_score_zero(
    data: tuple[list[int], list[list[int]], list[list[int]]], factor: int
) -> None:
    sizes, ref, _ = data
    reference = np.concatenate(ref)
    psi, js, ks, _upper, wasserstein, chi, _dof, p = _all_scores(reference, reference * factor, sizes)
    for scores in (psi, js, ks, wasserstein, chi):
        np.testing.assert_allclose(scores, 0.0, atol=1e-12)
    np.testing.assert_allclose(p, 1.0, atol=1e-12)


def test_psi_smoothing_keeps_an_empty_reference_bin_finite() -> None:
    seg = Segments([0, 3])
    ref = np.array([100, 0, 0])
    cur = np.array([50, 50, 0])
    value = float(scoring.psi(ref, cur, seg)[0])
    # the smoothed empty bin, eps / (1 + 3 eps), against 0.5 of the current rows
    assert np.isfinite(value)
    assert 2.0 < value < 6.0


def test_categorical_profile_counts_unseen_values_in_the_special_bin() -> None:
    feature = categorical_profile("plan", ["a", "a", "b"])
    profile = Profile(features=(feature,), output=feature)
    counts = Binner(profile).feature_counts(np.array([["a"], ["z"], [None]], dtype=object))
    assert counts.tolist() == [1, 0, 2]

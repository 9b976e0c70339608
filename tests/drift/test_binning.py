"""The Binner's large-batch path counts exactly like its per-row path."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.drift import binning
from modelops.drift.binning import Binner
from modelops.drift.profile import Profile, categorical_profile, numeric_profile


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.booleans())
def test_large_batches_count_like_small_ones(seed: int, n_bins: int, categorical: bool) -> None:
    rng = np.random.default_rng(seed)
    features = [numeric_profile(f"x{i}", rng.normal(size=300).round(1), n_bins=n_bins) for i in range(4)]
    if categorical:
        features.append(categorical_profile("c", rng.choice(["a", "b"], size=50)))
    profile = Profile(features=tuple(features), output=features[0])
    binner = Binner(profile)
    n = binning._BROADCAST_LIMIT // 8 + 1
    rows = np.empty((n, len(features)), dtype=object if categorical else np.float64)
    rows[:, :4] = rng.normal(size=(n, 4)).round(1)
    rows[rng.random(n) < 0.05, 1] = np.nan
    rows[:5, 2] = [np.inf, -np.inf, 0.0, features[2].edges[0] if features[2].edges else 1.0, np.nan]
    if categorical:
        rows[:, 4] = rng.choice(["a", "b", "z"], size=n)
    big = binner.feature_counts(rows)
    small = sum(binner.feature_counts(rows[i : i + 64]) for i in range(0, n, 64))
    np.testing.assert_array_equal(big, small)
    sums = np.add.reduceat(big, binner.offsets[:-1])
    assert sums.tolist() == [n] * len(features)

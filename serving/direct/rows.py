"""The rows a direct predictor is checked on before it is used: spread over (and past) the
profile's range, with missing values where the model takes them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import Profile

CHECK_ROWS = 512


def profile_rows(profile: Profile, n: int = CHECK_ROWS, seed: int = 0) -> npt.NDArray[np.float64]:
    """Rows spread over (and past) every numeric feature's binned range."""
    rng = np.random.default_rng(seed)
    columns = []
    for feature in profile.features:
        edges = np.asarray(feature.edges, dtype=np.float64)
        low, high = (float(edges.min()), float(edges.max())) if edges.size else (-1.0, 1.0)
        span = max(high - low, 1.0)
        columns.append(rng.uniform(low - span, high + span, n))
    return np.column_stack(columns) if columns else np.zeros((n, 0))


def with_missing(rows: npt.NDArray[np.float64], share: float = 0.2, seed: int = 1) -> npt.NDArray[np.float64]:
    """A copy of ``rows`` with about ``share`` of its values missing (NaN), at least one per row."""
    rng = np.random.default_rng(seed)
    out = rows.copy()
    if out.size == 0:
        return out
    out[rng.random(out.shape) < share] = np.nan
    out[np.arange(len(out)), rng.integers(0, out.shape[1], len(out))] = np.nan
    return out

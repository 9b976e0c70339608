"""Counting rows into a profile's bins: the serving pods' hot path.

A batch of ``n`` rows costs one vectorised comparison per numeric feature group and one
``bincount`` for all features together: O(features) per row, no Python loop over rows
for numeric features and no allocation that grows with traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift.categories import category_key, lookup_names
from modelops.drift.profile_format import BinnedProfile, Profile, ProfileError

# Above this many (rows x features x edges) comparisons, per-feature searchsorted is
# cheaper than one broadcast comparison (which materialises that many booleans).
_BROADCAST_LIMIT = 1 << 16


def bin_numeric(edges: npt.NDArray[np.float64], values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Counts of ``values`` over right-closed bins with inner ``edges``, NaN in the last bin."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    nan = np.isnan(arr)
    idx = np.searchsorted(edges, arr, side="left")
    idx[nan] = edges.size + 1
    return np.bincount(idx, minlength=edges.size + 2).astype(np.int64)


def bin_index_numeric(
    edges: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Bin index of every value (value bins ``0..len(edges)``, NaN -> ``len(edges)+1``)."""
    idx = np.searchsorted(edges, values, side="left")
    return np.where(np.isnan(values), edges.size + 1, idx)


def _count_column(edges: npt.NDArray[np.float64], column: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Counts of one contiguous column over right-closed bins, NaN in the last bin."""
    if edges.size <= 16:
        # a few whole-column comparisons beat searchsorted's unpredictable branches
        idx = np.zeros(column.size, dtype=np.uint8)
        for e in edges:
            idx += column > e
    else:
        idx = np.searchsorted(edges, column, side="left").astype(np.intp)
    counts = np.bincount(idx, minlength=edges.size + 2).astype(np.int64)
    missing = int(np.count_nonzero(np.isnan(column)))
    if missing:
        # NaN compares false (bin 0) and searchsorts past every edge (top value bin)
        counts[0 if edges.size <= 16 else edges.size] -= missing
        counts[edges.size + 1] += missing
    return counts


class _CategoryLookup:
    def __init__(self, feature: BinnedProfile) -> None:
        self.index = lookup_names(feature.categories)
        self.special = feature.n_value_bins

    def indices(self, values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        get = self.index.get
        special = self.special
        # A missing value's key is None, which no category has: the special bin.
        return np.fromiter((get(category_key(v), special) for v in values), dtype=np.intp, count=len(values))


class Binner:
    """Maps batches of rows (and of model outputs) to flat count vectors over a profile.

    The flat layout concatenates the features' bins in profile order: feature ``i`` owns
    ``counts[offsets[i]:offsets[i + 1]]``. The same layout is what ``/drift`` reports.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        sizes = [f.n_bins for f in profile.features]
        self.offsets: npt.NDArray[np.intp] = np.concatenate(([0], np.cumsum(sizes))).astype(np.intp)
        self.total_bins = int(self.offsets[-1])
        self._numeric = np.array(
            [i for i, f in enumerate(profile.features) if f.kind == "numeric"], dtype=np.intp
        )
        self._categorical = [
            (i, _CategoryLookup(f)) for i, f in enumerate(profile.features) if f.kind == "categorical"
        ]
        widest = max((len(profile.features[i].edges) for i in self._numeric), default=0)
        # Padding with +inf keeps `x > edge` false, so padded columns never count.
        self._edges = np.full((self._numeric.size, widest), np.inf)
        self._edge_list = []
        for row, i in enumerate(self._numeric):
            e = np.asarray(profile.features[i].edges, dtype=np.float64)
            self._edges[row, : e.size] = e
            self._edge_list.append(e)
        self._missing = np.array(
            [profile.features[i].n_value_bins for i in self._numeric], dtype=np.intp
        )
        self._num_offsets = self.offsets[self._numeric]
        self._output = profile.output
        self._output_edges = np.asarray(profile.output.edges, dtype=np.float64)
        self._output_lookup = (
            _CategoryLookup(profile.output) if profile.output.kind == "categorical" else None
        )

    def feature_indices(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        """Flat bin index of every (row, feature): shape ``(n, n_features)``."""
        if rows.ndim != 2 or rows.shape[1] != len(self.profile.features):
            raise ProfileError(
                f"expected rows of {len(self.profile.features)} features, got shape {rows.shape}"
            )
        n = rows.shape[0]
        out = np.empty((n, len(self.profile.features)), dtype=np.intp)
        if self._numeric.size:
            x = rows[:, self._numeric] if rows.dtype != object else rows[:, self._numeric].astype(np.float64)
            x = np.asarray(x, dtype=np.float64)
            if n * self._edges.size <= _BROADCAST_LIMIT:
                idx = (x[:, :, None] > self._edges[None, :, :]).sum(axis=2)
                idx = np.where(np.isnan(x), self._missing[None, :], idx)
            else:
                idx = np.empty(x.shape, dtype=np.intp)
                for col, edges in enumerate(self._edge_list):
                    idx[:, col] = bin_index_numeric(edges, x[:, col])
            out[:, self._numeric] = idx + self._num_offsets[None, :]
        for i, lookup in self._categorical:
            out[:, i] = lookup.indices(rows[:, i]) + self.offsets[i]
        return out

    def feature_counts(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """Counts of a batch of rows over all features' bins (flat layout)."""
        if rows.ndim != 2 or rows.shape[1] != len(self.profile.features):
            raise ProfileError(
                f"expected rows of {len(self.profile.features)} features, got shape {rows.shape}"
            )
        if rows.shape[0] * self._edges.size <= _BROADCAST_LIMIT:
            return np.bincount(self.feature_indices(rows).ravel(), minlength=self.total_bins).astype(
                np.int64, copy=False
            )
        # Large batches: one contiguous column at a time. Bin order does not matter for
        # counts, and column-major access is several times faster than scattered writes
        # into an (n, features) index array.
        counts = np.zeros(self.total_bins, dtype=np.int64)
        if self._numeric.size:
            x = rows[:, self._numeric]
            columns = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
            for col, (edges, off) in enumerate(zip(self._edge_list, self._num_offsets, strict=True)):
                counts[off : off + edges.size + 2] = _count_column(edges, columns[col])
        for i, lookup in self._categorical:
            counts[self.offsets[i] : self.offsets[i + 1]] = np.bincount(
                lookup.indices(rows[:, i]), minlength=lookup.special + 1
            )
        return counts

    def output_counts(self, outputs: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Counts of a batch of model outputs (class labels or regression values)."""
        arr = np.asarray(outputs).ravel()
        if self._output_lookup is not None:
            idx = self._output_lookup.indices(arr)
        else:
            idx = bin_index_numeric(self._output_edges, arr.astype(np.float64))
        return np.bincount(idx, minlength=self._output.n_bins).astype(np.int64, copy=False)

    def split(self, flat: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
        """The flat feature counts cut into one array per feature."""
        return [flat[self.offsets[i] : self.offsets[i + 1]] for i in range(len(self.profile.features))]

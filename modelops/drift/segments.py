"""Per-feature reductions over a flat array of bins, without a Python loop over features.

Thousands of features with tens of bins each are laid end to end (feature ``i`` owns
``flat[offsets[i]:offsets[i + 1]]``, every feature at least one bin), and each score is a
handful of whole-array operations plus ``ufunc.reduceat`` per feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]


class Segments:
    """The split of a flat bin array into consecutive, non-empty per-feature segments."""

    def __init__(self, offsets: npt.ArrayLike) -> None:
        off = np.asarray(offsets, dtype=np.intp)
        if off.ndim != 1 or off.size < 1 or off[0] != 0:
            raise ValueError("segment offsets must be a flat array starting at 0")
        lengths = np.diff(off)
        if lengths.size and lengths.min() < 1:
            raise ValueError("every segment needs at least one bin")
        self.offsets: Index = off
        self.starts: Index = off[:-1]
        self.lengths: Index = lengths
        self.count = int(lengths.size)
        self.size = int(off[-1])
        # segment number of every flat position, for broadcasting per-segment values
        self.owner: Index = np.repeat(np.arange(self.count, dtype=np.intp), lengths)
        last = np.zeros(self.size, dtype=bool)
        last[off[1:] - 1] = True
        self.is_last: npt.NDArray[np.bool_] = last

    def sum(self, flat: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if not self.count:
            return np.zeros(0, dtype=flat.dtype)
        return np.add.reduceat(flat, self.starts)

    def max(self, flat: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if not self.count:
            return np.zeros(0, dtype=flat.dtype)
        return np.maximum.reduceat(flat, self.starts)

    def spread(self, per_segment: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """One value per segment repeated over that segment's bins."""
        return per_segment[self.owner]

    def cumsum(self, flat: Ints) -> Ints:
        """Running sums restarting at every segment (exact on integers)."""
        if not self.count:
            return flat.copy()
        total = np.cumsum(flat)
        before = total[self.starts] - flat[self.starts]
        out: Ints = total - before[self.owner]
        return out

    def subset(self, features: Index) -> tuple[Index, Segments]:
        """Flat positions of the chosen segments, and the segments of that gathered array."""
        lengths = self.lengths[features]
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.intp)
        shift = np.repeat(self.starts[features] - offsets[:-1], lengths)
        return np.arange(offsets[-1], dtype=np.intp) + shift, Segments(offsets)

    def drop_last(self) -> tuple[npt.NDArray[np.bool_], Segments]:
        """Mask keeping all but the last bin of every segment, and the resulting segments.

        Every profile quantity ends with its special bin (missing / unseen); the ordered
        methods (KS, Wasserstein) work on the value bins before it.
        """
        return ~self.is_last, Segments(self.offsets - np.arange(self.count + 1, dtype=np.intp))

"""Per-replica drift sketch: bin counts of every row and prediction in a ring of time buckets.

Buckets are aligned to multiples of ``bucket_seconds`` (unix time), so replicas' buckets
line up and ``modelops.drift.counts.merge`` adds them exactly. Memory is fixed at start:
(window / bucket + 1) x (all features' bins + output bins) integers.

A huge batch is counted in pieces of ``_CHUNK`` rows: counting runs in the predicting
thread, and a few milliseconds per numpy call keep the event loop's thread from waiting
long for the GIL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift.binning import Binner
from modelops.drift.counts import CountsBucket, DriftCounts
from modelops.drift.profile import Profile

_CHUNK = 1 << 16
_FEW = 64  # up to this many predictions, the binner's own per-value lookup is as cheap


class WindowError(ValueError):
    """A window the sketch cannot answer (longer than it keeps, or not positive)."""


class DriftSketch:
    def __init__(
        self,
        profile: Profile,
        *,
        model: str,
        version: str,
        bucket_seconds: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bucket_seconds < 1:
            raise ValueError(f"bucket_seconds must be at least 1, got {bucket_seconds}")
        if window_seconds < bucket_seconds:
            raise ValueError(f"the window ({window_seconds}s) must hold at least one bucket ({bucket_seconds}s)")
        self.profile = profile
        self.binner = Binner(profile)
        self.model = model
        self.version = version
        self.bucket_seconds = bucket_seconds
        self.window_seconds = math.ceil(window_seconds / bucket_seconds) * bucket_seconds
        # one slot more than the window: the current, partly filled bucket
        self._slots = self.window_seconds // bucket_seconds + 1
        self._clock = clock
        self._lock = threading.Lock()
        self._starts = np.full(self._slots, -1, dtype=np.int64)
        self._rows = np.zeros(self._slots, dtype=np.int64)
        self._counts = np.zeros((self._slots, self.binner.total_bins), dtype=np.int64)
        self._output = np.zeros((self._slots, profile.output.n_bins), dtype=np.int64)

    def add(self, rows: npt.NDArray[Any], predictions: npt.NDArray[Any], now: float | None = None) -> None:
        """Count a batch of rows (n x features, profile order) and their predictions."""
        if rows.shape[0] == 0:
            return
        if rows.shape[0] > _CHUNK:
            now = self._clock() if now is None else now  # one bucket for the whole batch
            for i in range(0, rows.shape[0], _CHUNK):
                self.add(rows[i : i + _CHUNK], predictions[i : i + _CHUNK], now)
            return
        features = self.binner.feature_counts(rows)
        output = self._output_counts(predictions)
        start = self._bucket_start(self._clock() if now is None else now)
        slot = (start // self.bucket_seconds) % self._slots
        with self._lock:
            if self._starts[slot] != start:
                if self._starts[slot] > start:  # a late batch for a bucket already recycled
                    return
                self._starts[slot] = start
                self._rows[slot] = 0
                self._counts[slot] = 0
                self._output[slot] = 0
            self._rows[slot] += rows.shape[0]
            self._counts[slot] += features
            self._output[slot] += output

    def _output_counts(self, predictions: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """The binner's output counts; for class labels, looked up once per distinct class
        rather than once per row (the lookup is a Python call per value)."""
        if self.profile.output.kind != "categorical" or predictions.size <= _FEW or predictions.dtype.kind == "O":
            return self.binner.output_counts(predictions)
        classes, counts = np.unique(predictions.ravel(), return_counts=True)
        bins = np.stack([self.binner.output_counts(classes[i : i + 1]) for i in range(classes.size)])
        return np.asarray(counts @ bins, dtype=np.int64)

    def _bucket_start(self, now: float) -> int:
        return int(now) // self.bucket_seconds * self.bucket_seconds

    def window(self, seconds: float, now: float | None = None, *, summed: bool = False) -> DriftCounts:
        """Counts of the buckets in the last ``seconds`` (rounded up to whole buckets),
        up to and including the current bucket: ``[end - window, end)``; with ``summed``,
        added into one bucket starting at ``end - window`` (``DriftCounts.summed``)."""
        if not seconds > 0:
            raise WindowError(f"window must be positive, got {seconds}s")
        if seconds > self.window_seconds:  # also infinity, before any arithmetic on it
            raise WindowError(
                f"window {seconds:g}s is longer than the {self.window_seconds}s this server keeps "
                "(see --drift-window)"
            )
        span = math.ceil(seconds / self.bucket_seconds) * self.bucket_seconds
        if span > self.window_seconds:
            raise WindowError(
                f"window {span}s is longer than the {self.window_seconds}s this server keeps "
                "(see --drift-window)"
            )
        end = self._bucket_start(self._clock() if now is None else now) + self.bucket_seconds
        start = end - span
        with self._lock:
            keep = np.flatnonzero((self._starts >= start) & (self._starts < end) & (self._rows > 0))
            keep = keep[np.argsort(self._starts[keep])]
            buckets = tuple(
                CountsBucket(
                    start=int(self._starts[i]),
                    rows=int(self._rows[i]),
                    counts=self._counts[i].copy(),
                    output=self._output[i].copy(),
                )
                for i in keep
            )
        empty = DriftCounts.empty(
            self.profile,
            model=self.model,
            version=self.version,
            bucket_seconds=self.bucket_seconds,
            start=start,
            end=end,
        )
        counts = replace(empty, buckets=buckets)
        return counts.summed() if summed else counts

"""Latency histograms as Prometheus exposes them, and their quantiles.

A ``Histogram`` holds cumulative bucket counts: ``counts[i]`` observations were at most
``bounds[i]`` seconds, and the last bound is ``+inf`` (so ``counts[-1]`` is the total).
Both metrics sources end in this shape (the Pods source from ``_bucket`` series of the
scraped text, the Prometheus source from ``increase(..._bucket[interval])`` by ``le``), and
the quantile is computed here, once, so the two sources agree on the figure exactly.

``quantile`` follows PromQL's ``histogram_quantile``: find the first bucket whose
cumulative count reaches ``q * total`` and interpolate linearly inside it (from 0 for the
first bucket when its bound is positive); a rank in the ``+inf`` bucket answers the
highest finite bound. Counts that are not monotonic (Prometheus' extrapolated increases,
rounding) are first made monotonic the way Prometheus does (a running maximum).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class HistogramError(ValueError):
    """Buckets that do not make a histogram; the message says why."""


@dataclass(frozen=True)
class Histogram:
    bounds: tuple[float, ...]  # strictly increasing, the last one +inf
    counts: tuple[int, ...]  # cumulative, same length

    def __post_init__(self) -> None:
        if len(self.bounds) != len(self.counts):
            raise HistogramError(f"{len(self.bounds)} bucket bounds for {len(self.counts)} counts")
        if not self.bounds or not math.isinf(self.bounds[-1]) or self.bounds[-1] < 0:
            raise HistogramError('a histogram needs a last bucket le="+Inf"')
        if any(b >= a for a, b in zip(self.bounds[1:], self.bounds, strict=False)):
            raise HistogramError(f"bucket bounds must be strictly increasing, got {list(self.bounds)}")
        if any(c < 0 for c in self.counts):
            raise HistogramError("negative bucket count")

    @classmethod
    def from_buckets(cls, buckets: Mapping[float, float]) -> Histogram:
        """From ``{le: cumulative count}`` in any order (counts rounded to integers)."""
        bounds = tuple(sorted(buckets))
        return cls(bounds=bounds, counts=tuple(max(0, round(buckets[b])) for b in bounds))

    @classmethod
    def empty(cls, bounds: Iterable[float]) -> Histogram:
        b = tuple(bounds)
        return cls(bounds=b, counts=(0,) * len(b))

    @property
    def total(self) -> int:
        return self.counts[-1]

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) in seconds; None without observations."""
        if not 0.0 <= q <= 1.0:
            raise HistogramError(f"quantile must be within 0 and 1, got {q}")
        counts = _monotonic(self.counts)
        total = counts[-1]
        if total == 0 or len(self.bounds) < 2:
            return None
        rank = q * total
        i = next(k for k, c in enumerate(counts) if c >= rank)
        if math.isinf(self.bounds[i]):
            return self.bounds[-2]
        if i == 0 and self.bounds[0] <= 0:
            return self.bounds[0]
        start = 0.0 if i == 0 else self.bounds[i - 1]
        below = 0 if i == 0 else counts[i - 1]
        inside = counts[i] - below
        if inside == 0:
            return self.bounds[i]
        return start + (self.bounds[i] - start) * ((rank - below) / inside)

    def __add__(self, other: Histogram) -> Histogram:
        self._same_bounds(other)
        return Histogram(self.bounds, tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)))

    def _same_bounds(self, other: Histogram) -> None:
        if self.bounds != other.bounds:
            raise HistogramError(
                f"histograms with different buckets cannot be combined: {list(self.bounds)} vs {list(other.bounds)}"
            )


def _monotonic(counts: tuple[int, ...]) -> list[int]:
    out: list[int] = []
    top = 0
    for c in counts:
        top = max(top, c)
        out.append(top)
    return out


def parse_le(value: str) -> float:
    """A bucket's ``le`` label ("0.005", "+Inf") as a float."""
    try:
        bound = float(value)
    except ValueError:
        raise HistogramError(f"bucket bound le={value!r} is not a number") from None
    if math.isnan(bound):
        raise HistogramError("bucket bound le=NaN")
    return bound

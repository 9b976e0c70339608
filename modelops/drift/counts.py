"""Bin counts over a time window: the serving pods' ``/drift`` answer and its merge.

A serving replica counts every row into its profile's bins (see ``binning.Binner``), in
time buckets aligned to multiples of ``bucketSeconds`` so that replicas' buckets line up.
``GET /v2/models/{name}/drift?window=1h`` answers with one ``DriftCounts`` as JSON::

    {"model": "churn", "version": "churn-v2", "layoutDigest": "<Profile.layout_digest>",
     "bucketSeconds": 60, "start": 1764273600, "end": 1764277200,
     "features": ["tenure", "plan"], "bins": [12, 4], "outputBins": 3,
     "buckets": [{"start": 1764273600, "rows": 12,
                  "features": [[...12 counts of tenure...], [...4 counts of plan...]],
                  "output": [...3 counts...]}]}

Counts per feature have ``n_bins`` entries in profile order (value bins, then the special
bin). ``bins``/``outputBins`` make an empty window self-describing; readers infer them
from the first bucket when absent.

Counts are additive, so merging replicas is a bucket-wise sum: exact, associative and
commutative. Counts over different bin layouts cannot be added, and ``merge`` says which
part of the layout differs instead of returning a meaningless sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import Profile

Counts = npt.NDArray[np.int64]


class CountsError(ValueError):
    """Counts that are malformed or cannot be combined; the message says why."""


def _frozen(values: Any, what: str) -> Counts:
    try:
        arr = np.array(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CountsError(f"{what}: counts must be integers ({exc})") from None
    if arr.ndim != 1:
        raise CountsError(f"{what}: counts must be a flat list, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise CountsError(f"{what}: negative count")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class CountsBucket:
    """Counts of one time bucket: ``counts`` is flat over all features' bins (the layout
    of ``Binner.feature_counts``: feature ``i`` owns ``counts[offsets[i]:offsets[i+1]]``)."""

    start: int
    rows: int
    counts: Counts
    output: Counts

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _frozen(self.counts, f"bucket {self.start}"))
        object.__setattr__(self, "output", _frozen(self.output, f"bucket {self.start} output"))
        if self.rows < 0:
            raise CountsError(f"bucket {self.start}: negative row count {self.rows}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountsBucket):
            return NotImplemented
        return (
            self.start == other.start
            and self.rows == other.rows
            and np.array_equal(self.counts, other.counts)
            and np.array_equal(self.output, other.output)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays inside: not hashable


@dataclass(frozen=True, eq=False)
class DriftCounts:
    """Bin counts of one model version over a window ``[start, end)`` (unix seconds)."""

    model: str
    version: str
    layout_digest: str
    bucket_seconds: int
    start: int
    end: int
    features: tuple[str, ...]
    bins: tuple[int, ...]  # n_bins per feature, profile order
    output_bins: int
    buckets: tuple[CountsBucket, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "bins", tuple(int(b) for b in self.bins))
        object.__setattr__(self, "buckets", tuple(self.buckets))
        if self.bucket_seconds <= 0:
            raise CountsError(f"bucketSeconds must be positive, got {self.bucket_seconds}")
        if self.end < self.start:
            raise CountsError(f"window end {self.end} is before its start {self.start}")
        if len(self.bins) != len(self.features):
            raise CountsError(f"{len(self.bins)} bin counts for {len(self.features)} features")
        if len(set(self.features)) != len(self.features):
            raise CountsError("a feature is listed twice")
        if any(b < 1 for b in self.bins) or self.output_bins < 1:
            raise CountsError("every feature and the output need at least one bin")
        total = sum(self.bins)
        previous: int | None = None
        for b in self.buckets:
            if b.start % self.bucket_seconds:
                raise CountsError(
                    f"bucket start {b.start} is not a multiple of bucketSeconds {self.bucket_seconds}"
                )
            if previous is not None and b.start <= previous:
                raise CountsError(f"bucket starts must be strictly increasing ({previous} then {b.start})")
            previous = b.start
            if b.counts.size != total:
                raise CountsError(
                    f"bucket {b.start}: {b.counts.size} feature counts for a layout of {total} bins"
                )
            if b.output.size != self.output_bins:
                raise CountsError(
                    f"bucket {b.start}: {b.output.size} output counts for {self.output_bins} output bins"
                )
        if self.buckets and self.features:
            # Every row adds exactly one count per feature (a missing value to the special
            # bin), so a feature whose counts do not sum to the rows means a broken counter.
            sums = np.add.reduceat(np.stack([b.counts for b in self.buckets]), self.offsets[:-1], axis=1)
            rows = np.array([b.rows for b in self.buckets], dtype=np.int64)
            bad = np.argwhere(sums != rows[:, None])
            if bad.size:
                bi, fi = (int(v) for v in bad[0])
                raise CountsError(
                    f"bucket {self.buckets[bi].start}: feature {self.features[fi]!r} counts sum to "
                    f"{int(sums[bi, fi])}, not to the bucket's {int(rows[bi])} rows"
                )
            outs = np.array([int(b.output.sum()) for b in self.buckets])
            over = np.flatnonzero(outs > rows)
            if over.size:
                i = int(over[0])
                raise CountsError(
                    f"bucket {self.buckets[i].start}: {outs[i]} output counts for {rows[i]} rows"
                )

    # -- layout --------------------------------------------------------------------------

    @property
    def offsets(self) -> npt.NDArray[np.intp]:
        """Feature ``i`` owns flat bins ``offsets[i]:offsets[i+1]``."""
        return np.concatenate(([0], np.cumsum(self.bins, dtype=np.intp))).astype(np.intp)

    @classmethod
    def empty(
        cls, profile: Profile, *, model: str, version: str, bucket_seconds: int, start: int, end: int
    ) -> DriftCounts:
        """A window without buckets, laid out like ``profile``."""
        return cls(
            model=model,
            version=version,
            layout_digest=profile.layout_digest,
            bucket_seconds=bucket_seconds,
            start=start,
            end=end,
            features=profile.feature_names,
            bins=tuple(f.n_bins for f in profile.features),
            output_bins=profile.output.n_bins,
        )

    def check_profile(self, profile: Profile) -> None:
        """Raise ``CountsError`` unless these counts were taken over ``profile``'s bins."""
        if self.features != profile.feature_names:
            raise CountsError(
                f"counts list features {list(self.features)}, the profile {list(profile.feature_names)}"
            )
        bins = tuple(f.n_bins for f in profile.features)
        if self.bins != bins or self.output_bins != profile.output.n_bins:
            raise CountsError(
                f"counts have bins {list(self.bins)} / output {self.output_bins}, the profile "
                f"{list(bins)} / output {profile.output.n_bins}"
            )
        if self.layout_digest != profile.layout_digest:
            raise CountsError(
                f"counts were taken over layout {self.layout_digest[:12]}…, the profile's is "
                f"{profile.layout_digest[:12]}… (different bin edges or categories)"
            )

    # -- totals over the window ----------------------------------------------------------

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.buckets)

    def feature_totals(self) -> Counts:
        """Counts over the whole window, flat over all features' bins."""
        if not self.buckets:
            return np.zeros(sum(self.bins), dtype=np.int64)
        total: Counts = np.sum([b.counts for b in self.buckets], axis=0, dtype=np.int64)
        return total

    def feature_totals_by_name(self) -> dict[str, Counts]:
        flat = self.feature_totals()
        return dict(zip(self.features, np.split(flat, self.offsets[1:-1]), strict=True))

    def output_totals(self) -> Counts:
        if not self.buckets:
            return np.zeros(self.output_bins, dtype=np.int64)
        total: Counts = np.sum([b.output for b in self.buckets], axis=0, dtype=np.int64)
        return total

    def summed(self) -> DriftCounts:
        """The same window with its buckets added into one (exact: counts are additive).

        The one bucket starts at the window's start (floored to ``bucket_seconds``, so
        that replicas' summed buckets still line up) and stands for the whole window:
        what ``/drift?summed=true`` answers, so the reader parses one bucket per replica
        whatever the window. ``between`` cannot split it again."""
        if len(self.buckets) <= 1 and (not self.buckets or self.buckets[0].start == self._summed_start):
            return self
        bucket = CountsBucket(
            start=self._summed_start, rows=self.rows, counts=self.feature_totals(), output=self.output_totals()
        )
        return replace(self, buckets=(bucket,))

    @property
    def _summed_start(self) -> int:
        return self.start // self.bucket_seconds * self.bucket_seconds

    def between(self, start: int, end: int) -> DriftCounts:
        """The buckets starting in ``[start, end)``: a shorter window of the same counts."""
        kept = tuple(b for b in self.buckets if start <= b.start < end)
        return replace(self, start=max(start, self.start), end=min(end, self.end), buckets=kept)

    # -- wire format ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        splits = self.offsets[1:-1]
        return {
            "model": self.model,
            "version": self.version,
            "layoutDigest": self.layout_digest,
            "bucketSeconds": self.bucket_seconds,
            "start": self.start,
            "end": self.end,
            "features": list(self.features),
            "bins": list(self.bins),
            "outputBins": self.output_bins,
            "buckets": [
                {
                    "start": b.start,
                    "rows": b.rows,
                    "features": [part.tolist() for part in np.split(b.counts, splits)],
                    "output": b.output.tolist(),
                }
                for b in self.buckets
            ],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DriftCounts:
        if not isinstance(raw, Mapping):
            raise CountsError("drift counts must be a JSON object")
        try:
            features = tuple(str(f) for f in raw["features"])
            raw_buckets = list(raw.get("buckets", ()))
            bins = raw.get("bins")
            output_bins = raw.get("outputBins")
            if bins is None or output_bins is None:
                if not raw_buckets:
                    raise CountsError('drift counts without buckets must state "bins" and "outputBins"')
                first = raw_buckets[0]
                bins = [len(c) for c in first["features"]] if bins is None else bins
                output_bins = len(first["output"]) if output_bins is None else output_bins
            bins = [int(b) for b in bins]
            total = sum(bins)
            starts: list[int] = []
            rows: list[int] = []
            outputs: list[Any] = []
            per_bucket: list[Sequence[Sequence[Any]]] = []
            for rb in raw_buckets:
                per_feature = rb["features"]
                if len(per_feature) != len(features):
                    raise CountsError(
                        f"bucket {rb.get('start')}: {len(per_feature)} count lists "
                        f"for {len(features)} features"
                    )
                # map(len) runs in C: a Python loop per feature per bucket cost the operator
                # more than the numbers themselves (20 replicas x 60 buckets x 200 features)
                if list(map(len, per_feature)) != bins:
                    name, c, n = next(
                        (name, c, n) for name, c, n in zip(features, per_feature, bins, strict=True) if len(c) != n
                    )
                    raise CountsError(
                        f"bucket {rb.get('start')}: feature {name!r} has {len(c)} counts, not {n}"
                    )
                starts.append(int(rb["start"]))
                rows.append(int(rb["rows"]))
                outputs.append(rb["output"])
                per_bucket.append(per_feature)
            # every bucket's counts in one numpy call, no Python object per count on our side
            flat = np.fromiter(
                chain.from_iterable(chain.from_iterable(per_bucket)), dtype=np.int64, count=len(per_bucket) * total
            ).reshape(len(per_bucket), total)
            buckets = [
                CountsBucket(start=start, rows=n_rows, counts=counts, output=np.asarray(output, dtype=np.int64))
                for start, n_rows, counts, output in zip(starts, rows, flat, outputs, strict=True)
            ]
            return cls(
                model=str(raw["model"]),
                version=str(raw["version"]),
                layout_digest=str(raw["layoutDigest"]),
                bucket_seconds=int(raw["bucketSeconds"]),
                start=int(raw["start"]),
                end=int(raw["end"]),
                features=features,
                bins=tuple(bins),
                output_bins=int(output_bins),
                buckets=tuple(buckets),
            )
        except KeyError as exc:
            raise CountsError(f"drift counts are missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CountsError):
                raise
            raise CountsError(f"malformed drift counts: {exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriftCounts):
            return NotImplemented
        return (
            self.model == other.model
            and self.version == other.version
            and self.layout_digest == other.layout_digest
            and self.bucket_seconds == other.bucket_seconds
            and self.start == other.start
            and self.end == other.end
            and self.features == other.features
            and self.bins == other.bins
            and self.output_bins == other.output_bins
            and self.buckets == other.buckets
        )

    __hash__ = None  # type: ignore[assignment]


_MUST_MATCH: Sequence[tuple[str, str]] = (
    ("model", "model"),
    ("version", "version"),
    ("layout_digest", "layoutDigest"),
    ("bucket_seconds", "bucketSeconds"),
    ("features", "features"),
    ("bins", "bins"),
    ("output_bins", "outputBins"),
)


def merge(first: DriftCounts, *others: DriftCounts) -> DriftCounts:
    """Sum the counts of replicas of one model version, bucket by bucket.

    The window becomes the union of the windows. Associative and commutative; raises
    ``CountsError`` naming the first part of the layout that differs.
    """
    return merge_all((first, *others))


def merge_all(counts: Iterable[DriftCounts]) -> DriftCounts:
    items = list(counts)
    if not items:
        raise CountsError("nothing to merge")
    head = items[0]
    for other in items[1:]:
        for attr, wire in _MUST_MATCH:
            mine, theirs = getattr(head, attr), getattr(other, attr)
            if mine != theirs:
                raise CountsError(f"cannot merge drift counts with different {wire}: {mine!r} vs {theirs!r}")
    if len(items) == 1:
        return head
    by_start: dict[int, tuple[int, Counts, Counts]] = {}
    for c in items:
        for b in c.buckets:
            seen = by_start.get(b.start)
            if seen is None:
                by_start[b.start] = (b.rows, b.counts, b.output)
            else:
                by_start[b.start] = (seen[0] + b.rows, seen[1] + b.counts, seen[2] + b.output)
    buckets = tuple(
        CountsBucket(start=s, rows=r, counts=fc, output=oc) for s, (r, fc, oc) in sorted(by_start.items())
    )
    return replace(
        head,
        start=min(c.start for c in items),
        end=max(c.end for c in items),
        buckets=buckets,
    )

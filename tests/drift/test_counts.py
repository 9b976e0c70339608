"""The /drift wire format and the merge of replicas' counts."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.drift.binning import Binner
from modelops.drift.counts import CountsBucket, CountsError, DriftCounts, merge
from modelops.drift.profile import BinnedProfile, Profile, categorical_profile, numeric_profile

BINS = (4, 3)
OUTPUT_BINS = 3
DIGEST = "d" * 64


def _profile() -> Profile:
    rng = np.random.default_rng(0)
    return Profile(
        features=(
            numeric_profile("tenure", rng.normal(size=500), n_bins=5),
            categorical_profile("plan", rng.choice(["basic", "pro", "max"], size=500)),
        ),
        output=categorical_profile("output", rng.choice(["0", "1"], size=500)),
    )


@st.composite
def bucket(draw: st.DrawFn, start: int) -> CountsBucket:
    rows = draw(st.integers(0, 50))
    parts = []
    for n in BINS:
        cuts = sorted(draw(st.lists(st.integers(0, rows), min_size=n - 1, max_size=n - 1)))
        parts.append(np.diff([0, *cuts, rows]))
    # outputs may fall short of the rows (a failed prediction), never exceed them
    out_rows = draw(st.integers(0, rows))
    n = OUTPUT_BINS - 1
    cuts = sorted(draw(st.lists(st.integers(0, out_rows), min_size=n, max_size=n)))
    out = np.diff([0, *cuts, out_rows])
    return CountsBucket(start=start, rows=rows, counts=np.concatenate(parts), output=out)


@st.composite
def replica(draw: st.DrawFn) -> DriftCounts:
    slots = draw(st.lists(st.integers(0, 8), unique=True, max_size=5))
    buckets = tuple(draw(bucket(start=1_764_273_600 + 60 * s)) for s in sorted(slots))
    start = 1_764_273_600 + 60 * draw(st.integers(-2, 0))
    return DriftCounts(
        model="churn",
        version="churn-v2",
        layout_digest=DIGEST,
        bucket_seconds=60,
        start=start,
        end=start + 3600 + 60 * draw(st.integers(0, 3)),
        features=("tenure", "plan"),
        bins=BINS,
        output_bins=OUTPUT_BINS,
        buckets=buckets,
    )


@settings(max_examples=60, deadline=None)
@given(replica(), replica(), replica())
def test_merge_is_associative_and_commutative(a: DriftCounts, b: DriftCounts, c: DriftCounts) -> None:
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c)) == merge(a, b, c)


@settings(max_examples=60, deadline=None)
@given(replica(), replica())
def test_merge_sums_totals(a: DriftCounts, b: DriftCounts) -> None:
    m = merge(a, b)
    assert m.rows == a.rows + b.rows
    np.testing.assert_array_equal(m.feature_totals(), a.feature_totals() + b.feature_totals())
    np.testing.assert_array_equal(m.output_totals(), a.output_totals() + b.output_totals())
    assert m.start == min(a.start, b.start)
    assert m.end == max(a.end, b.end)


@settings(max_examples=60, deadline=None)
@given(replica())
def test_json_round_trip(a: DriftCounts) -> None:
    assert DriftCounts.from_json(a.to_json()) == a


@settings(max_examples=60, deadline=None)
@given(replica(), replica())
def test_summed_is_one_bucket_with_the_window_totals_and_merges_like_the_buckets(
    a: DriftCounts, b: DriftCounts
) -> None:
    s = a.summed()
    assert len(s.buckets) == (1 if a.buckets else 0)
    assert (s.start, s.end, s.rows) == (a.start, a.end, a.rows)
    assert all(k.start == a.start // a.bucket_seconds * a.bucket_seconds for k in s.buckets)
    np.testing.assert_array_equal(s.feature_totals(), a.feature_totals())
    np.testing.assert_array_equal(s.output_totals(), a.output_totals())
    assert DriftCounts.from_json(s.to_json()) == s
    assert s.summed() == s
    m = merge(s, b.summed())
    np.testing.assert_array_equal(m.feature_totals(), merge(a, b).feature_totals())
    np.testing.assert_array_equal(m.output_totals(), merge(a, b).output_totals())


def test_json_has_one_count_list_per_feature_in_profile_order() -> None:
    profile = _profile()
    binner = Binner(profile)
    rows = np.array([[0.1, "pro"], [np.nan, "gold"], [3.0, "basic"]], dtype=object)
    empty = DriftCounts.empty(profile, model="churn", version="v2", bucket_seconds=60, start=120, end=240)
    bucket = CountsBucket(
        start=180, rows=3, counts=binner.feature_counts(rows),
        output=binner.output_counts(np.array(["1", "0", "1"])),
    )
    counts = replace(empty, buckets=(bucket,))
    raw = counts.to_json()
    tenure, plan = raw["buckets"][0]["features"]
    assert len(tenure) == profile.features[0].n_bins
    assert len(plan) == profile.features[1].n_bins
    assert tenure[-1] == 1  # the NaN, in the missing bin
    assert plan[-1] == 1  # "gold" was never seen in the reference
    assert raw["layoutDigest"] == profile.layout_digest
    counts.check_profile(profile)
    assert counts.feature_totals_by_name()["plan"].tolist() == plan


def test_counts_without_bins_field_infer_them_from_buckets() -> None:
    raw = {
        "model": "churn", "version": "churn-v2", "layoutDigest": DIGEST, "bucketSeconds": 60,
        "start": 1764273600, "end": 1764277200, "features": ["tenure", "plan"],
        "buckets": [{"start": 1764273600, "rows": 2, "features": [[1, 0, 1, 0], [0, 2, 0]],
                     "output": [1, 1, 0]}],
    }
    counts = DriftCounts.from_json(raw)
    assert counts.bins == (4, 3)
    assert counts.rows == 2


def _one(**changes: object) -> DriftCounts:
    base: dict[str, object] = {
        "model": "churn", "version": "churn-v2", "layout_digest": DIGEST, "bucket_seconds": 60,
        "start": 0, "end": 3600, "features": ("tenure", "plan"), "bins": BINS,
        "output_bins": OUTPUT_BINS, "buckets": (),
    }
    base.update(changes)
    return DriftCounts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"layout_digest": "e" * 64}, "layoutDigest"),
        ({"features": ("tenure", "region")}, "features"),
        ({"bucket_seconds": 30}, "bucketSeconds"),
        ({"bins": (5, 3)}, "bins"),
        ({"output_bins": 2}, "outputBins"),
    ],
)
def test_merge_refuses_different_layouts(changes: dict[str, object], named: str) -> None:
    with pytest.raises(CountsError, match=named):
        merge(_one(), _one(**changes))


def test_bucket_whose_feature_counts_do_not_sum_to_rows_is_rejected() -> None:
    bad = CountsBucket(start=60, rows=3, counts=np.array([1, 1, 0, 0, 3, 0, 0]), output=np.array([3, 0, 0]))
    with pytest.raises(CountsError, match="'tenure' counts sum to 2, not to the bucket's 3 rows"):
        _one(buckets=(bad,))


def test_misaligned_bucket_is_rejected() -> None:
    b = CountsBucket(start=61, rows=0, counts=np.zeros(7, dtype=np.int64), output=np.zeros(3, dtype=np.int64))
    with pytest.raises(CountsError, match="not a multiple of bucketSeconds 60"):
        _one(buckets=(b,))


def test_counts_over_another_profile_are_refused() -> None:
    profile = _profile()
    other = Profile(
        features=(BinnedProfile("tenure", "numeric", edges=(0.0,), reference=(1, 1, 0)), profile.features[1]),
        output=profile.output,
    )
    counts = DriftCounts.empty(profile, model="churn", version="v2", bucket_seconds=60, start=0, end=60)
    with pytest.raises(CountsError, match="bins"):
        counts.check_profile(other)


def test_between_keeps_the_buckets_of_a_shorter_window() -> None:
    z = np.zeros(7, dtype=np.int64)
    zo = np.zeros(3, dtype=np.int64)
    c = _one(buckets=tuple(CountsBucket(start=s, rows=0, counts=z, output=zo) for s in (0, 60, 120)))
    assert [b.start for b in c.between(60, 3600).buckets] == [60, 120]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw.pop("layoutDigest"), "missing 'layoutDigest'"),
        (lambda raw: raw["buckets"][0]["features"][1].append(0), "'plan' has 4 counts, not 3"),
        (lambda raw: raw["buckets"][0]["features"].pop(), "1 count lists for 2 features"),
        (lambda raw: raw["buckets"][0].update(output=[5, 0, 0]), "5 output counts for 2 rows"),
        (lambda raw: raw.update(buckets=[], bins=None), 'must state "bins"'),
    ],
)
def test_malformed_counts_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    raw: dict[str, Any] = {
        "model": "churn", "version": "churn-v2", "layoutDigest": DIGEST, "bucketSeconds": 60,
        "start": 1764273600, "end": 1764277200, "features": ["tenure", "plan"], "bins": [4, 3],
        "buckets": [{"start": 1764273600, "rows": 2, "features": [[1, 0, 1, 0], [0, 2, 0]],
                     "output": [1, 1, 0]}],
    }
    mutate(raw)
    with pytest.raises(CountsError, match=re.escape(message)):
        DriftCounts.from_json(raw)

"""The drift sketch: counts per time bucket, a ring that forgets what is older than its
window, and answers in the wire format that merges across replicas."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.drift.binning import Binner
from modelops.drift.counts import DriftCounts, merge
from modelops.serving.sketch import DriftSketch, WindowError
from tests.serving.models import rows, served

MODEL = served()
T0 = 1_764_273_600  # a multiple of 60


def sketch(window: int = 600) -> DriftSketch:
    return DriftSketch(MODEL.profile, model="cancer", version="v1", bucket_seconds=60, window_seconds=window)


def test_rows_land_in_aligned_buckets_with_exact_counts() -> None:
    s = sketch()
    a, b = rows(10, seed=1), rows(5, seed=2)
    s.add(a, MODEL.predict(a), now=T0 + 5)
    s.add(b, MODEL.predict(b), now=T0 + 61)
    counts = s.window(600, now=T0 + 70)
    assert (counts.start, counts.end) == (T0 + 120 - 600, T0 + 120)
    assert [(k.start, k.rows) for k in counts.buckets] == [(T0, 10), (T0 + 60, 5)]
    binner = Binner(MODEL.profile)
    assert np.array_equal(counts.buckets[0].counts, binner.feature_counts(a))
    assert np.array_equal(counts.buckets[1].output, binner.output_counts(MODEL.predict(b)))
    assert DriftCounts.from_json(counts.to_json()) == counts


def test_a_shorter_window_only_holds_recent_buckets() -> None:
    s = sketch()
    for minute in range(5):
        x = rows(minute + 1, seed=minute)
        s.add(x, MODEL.predict(x), now=T0 + 60 * minute)
    recent = s.window(120, now=T0 + 4 * 60 + 30)
    assert [k.rows for k in recent.buckets] == [4, 5]
    assert s.window(61, now=T0 + 4 * 60).end - s.window(61, now=T0 + 4 * 60).start == 120  # whole buckets


def test_old_buckets_are_recycled_not_double_counted() -> None:
    s = sketch(window=120)  # 3 slots
    x = rows(4)
    s.add(x, MODEL.predict(x), now=T0)
    s.add(x[:1], MODEL.predict(x[:1]), now=T0 + 180)  # same slot, three buckets later
    counts = s.window(120, now=T0 + 180)
    assert [(k.start, k.rows) for k in counts.buckets] == [(T0 + 180, 1)]
    s.add(x, MODEL.predict(x), now=T0)  # a late batch for a recycled bucket is dropped
    assert s.window(120, now=T0 + 180).rows == 1


def test_windows_longer_than_kept_are_refused() -> None:
    with pytest.raises(WindowError, match="longer than the 600s"):
        sketch().window(3600)
    with pytest.raises(WindowError, match="positive"):
        sketch().window(0)


def test_two_replicas_merge_to_one_replica_that_saw_everything() -> None:
    one, two, both = sketch(), sketch(), sketch()
    for i in range(6):
        x = rows(3 + i, seed=i)
        now = T0 + 40 * i
        (one if i % 2 else two).add(x, MODEL.predict(x), now=now)
        both.add(x, MODEL.predict(x), now=now)
    merged = merge(one.window(600, now=T0 + 300), two.window(600, now=T0 + 300))
    assert merged == both.window(600, now=T0 + 300)


def test_a_summed_window_is_one_bucket_holding_the_sum_of_the_buckets() -> None:
    one, two = sketch(), sketch()
    for i in range(6):
        x = rows(3 + i, seed=i)
        (one if i % 2 else two).add(x, MODEL.predict(x), now=T0 + 70 * i)
    now = T0 + 400
    buckets = one.window(600, now=now)
    summed = one.window(600, now=now, summed=True)
    assert len(buckets.buckets) == 3
    assert (summed.start, summed.end, summed.layout_digest) == (buckets.start, buckets.end, buckets.layout_digest)
    assert [(b.start, b.rows) for b in summed.buckets] == [(buckets.start, buckets.rows)]
    assert np.array_equal(summed.feature_totals(), buckets.feature_totals())
    assert np.array_equal(summed.output_totals(), buckets.output_totals())
    assert DriftCounts.from_json(summed.to_json()) == summed
    # replicas' summed buckets line up: merging them is still one bucket, the sum of all
    merged = merge(summed, two.window(600, now=now, summed=True))
    assert len(merged.buckets) == 1
    assert merged == merge(buckets, two.window(600, now=now)).summed()


def test_a_summed_empty_window_has_no_bucket() -> None:
    assert sketch().window(600, now=T0, summed=True).buckets == ()

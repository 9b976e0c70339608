"""The DriftPolicy scraper asks the replicas for their window summed into one bucket, and
that one bucket holds exactly what the per-bucket answer adds up to (real HTTP, the real
sketch behind a fake replica)."""

from __future__ import annotations

import time

import numpy as np
import orjson

from modelops.drift.counts import DriftCounts
from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.operator.driftpolicy.observe import ServingPod
from modelops.operator.driftpolicy.scrape import scrape

from .drift_fakes import FakeReplica, reference_rows


def _profile() -> Profile:
    reference = reference_rows(500, seed=1)
    features = tuple(numeric_profile(name, reference[:, i]) for i, name in enumerate("abc"))
    return Profile(features=features, output=categorical_profile("y", ["0", "1"]))


async def test_scrape_asks_for_the_summed_window_and_gets_one_bucket() -> None:
    replica = FakeReplica(_profile())
    try:
        now = time.time()
        for minutes_ago, seed in ((30, 2), (10, 3), (0, 4)):  # three buckets of the hour
            rows = reference_rows(40 + seed, seed=seed)
            replica.sketch.add(rows, (rows[:, 0] > 0).astype(int), now=now - 60 * minutes_ago)
        per_bucket = replica.sketch.window(3600, now=now)
        assert len(per_bucket.buckets) == 3

        scraped = await scrape([ServingPod("pod-0", f"http://{replica.ip}:{replica.port}")], "churn", "1h",
                               metrics=False)
    finally:
        replica.stop()

    assert scraped.failed == {}
    assert replica.summed_asked == ["true"]
    counts = DriftCounts.from_json(orjson.loads(scraped.drift["pod-0"]))
    assert len(counts.buckets) == 1
    assert counts.rows == per_bucket.rows == 40 + 2 + 40 + 3 + 40 + 4
    assert np.array_equal(counts.feature_totals(), per_bucket.feature_totals())
    assert np.array_equal(counts.output_totals(), per_bucket.output_totals())

"""The feedback store: bounded, scores each request once, rolling accuracy per version."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.serving.feedback import FeedbackError, FeedbackStore, label_key


def test_labels_compare_across_json_types() -> None:
    assert label_key(1) == label_key(1.0) == label_key("1") == label_key(np.int64(1))
    assert label_key("yes") != label_key("no")
    assert label_key(True) != label_key(1)


def test_scoring_counts_hits_and_forgets_the_request() -> None:
    store = FeedbackStore()
    store.remember("a", "v1", np.array([1, 0, 1]))
    scored = store.score("a", [1, 1, 1])
    assert (scored.version, scored.rows, scored.correct) == ("v1", 3, 2)
    assert scored.rolling_accuracy == pytest.approx(2 / 3)
    with pytest.raises(FeedbackError) as again:
        store.score("a", [1, 1, 1])
    assert again.value.status == 404


def test_label_count_must_match_the_rows() -> None:
    store = FeedbackStore()
    store.remember("a", "v1", np.array([1, 0]))
    with pytest.raises(FeedbackError, match="2 row") as wrong:
        store.score("a", [1])
    assert wrong.value.status == 400
    assert store.score("a", [1, 0]).correct == 2  # still there after the refusal


def test_the_store_is_bounded_oldest_first() -> None:
    store = FeedbackStore(capacity=2)
    for rid in ("a", "b", "c"):
        store.remember(rid, "v1", np.array([0]))
    assert len(store) == 2
    with pytest.raises(FeedbackError, match="older than the last 2"):
        store.score("a", [0])
    assert store.score("c", [0]).correct == 1


def test_rolling_accuracy_covers_the_last_rows_per_version() -> None:
    store = FeedbackStore(accuracy_window=4)
    for i, (version, hit) in enumerate([("v1", False)] * 4 + [("v1", True)] * 3 + [("v2", True)]):
        store.remember(str(i), version, np.array([1]))
        store.score(str(i), [1 if hit else 0])
    accuracy, samples = store.accuracy("v1")
    assert accuracy == pytest.approx(3 / 4)
    assert samples == 4
    assert store.accuracy("v2") == (1.0, 1)
    assert store.accuracy("v3") == (None, 0)

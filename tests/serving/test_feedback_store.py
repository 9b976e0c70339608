"""The feedback store: bounded (requests, rows, bytes), scores each request once, rolling
accuracy per version."""

from __future__ import annotations

import tracemalloc

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
    assert len(store) == 0  # the predictions are forgotten, only the scored id is kept


def test_a_retry_is_answered_with_the_first_figures_and_counts_nothing() -> None:
    store = FeedbackStore()
    store.remember("a", "v1", np.array([1, 0, 1]))
    first = store.score("a", [1, 1, 1])
    again = store.score("a", [1, 0, 1])  # even with other labels: scored once is scored
    assert again.already_scored
    assert not first.already_scored
    assert (again.version, again.rows, again.correct) == ("v1", 3, 2)
    accuracy, samples = store.accuracy("v1")
    assert samples == 3  # three rows counted, not six
    assert accuracy == pytest.approx(2 / 3)


def test_a_clients_id_is_an_alias_of_the_servers_id_until_both_are_forgotten() -> None:
    store = FeedbackStore(capacity=2)
    store.remember("srv-1", "v1", np.array([1]), alias="req-1")
    assert store.holds("req-1")
    assert store.holds("srv-1")
    scored = store.score("req-1", [1])
    assert (scored.request_id, scored.correct) == ("srv-1", 1)
    assert store.score("srv-1", [1]).already_scored  # a retry by either id
    assert store.score("req-1", [1]).already_scored
    for rid in ("srv-2", "srv-3"):  # two newer scored ids push the first out of the record
        store.remember(rid, "v1", np.array([1]))
        store.score(rid, [1])
    assert not store.holds("req-1")
    assert not store.holds("srv-1")
    with pytest.raises(FeedbackError) as gone:
        store.score("req-1", [1])
    assert gone.value.status == 404


def test_a_reused_client_id_names_the_latest_request() -> None:
    store = FeedbackStore()
    store.remember("srv-1", "v1", np.array([0]), alias="req")
    store.remember("srv-2", "v1", np.array([1]), alias="req")
    assert store.score("req", [1]).request_id == "srv-2"
    assert store.score("srv-1", [0]).correct == 1  # the older one keeps its own id


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
    with pytest.raises(FeedbackError, match="last 2 requests"):
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


def test_the_store_is_bounded_by_rows() -> None:
    store = FeedbackStore(max_rows=250, max_request_rows=100)
    for i in range(10):
        assert store.remember(str(i), "v1", np.zeros(100, dtype=np.int64)) is None
        assert store.rows <= 250
    assert len(store) == 2  # the newest two of 100 rows fit in 250
    assert store.score("9", [0] * 100).correct == 100
    with pytest.raises(FeedbackError):
        store.score("7", [0] * 100)


def test_the_store_is_bounded_by_its_bytes() -> None:
    store = FeedbackStore(max_bytes=64 << 10)
    for i in range(2000):
        store.remember(f"request-{i}", "v1", np.array(["yes", "no", "yes"]))
        assert store.nbytes <= 64 << 10
    assert 0 < len(store) < 2000
    assert store.score("request-1999", ["yes", "no", "no"]).correct == 2


def test_a_request_over_the_row_limit_is_answered_but_not_remembered() -> None:
    store = FeedbackStore(max_request_rows=1000)
    store.remember("small", "v1", np.zeros(10, dtype=np.int64))
    note = store.remember("big", "v1", np.zeros(1001, dtype=np.int64))
    assert note == "not-stored: 1001 rows > limit 1000"
    assert (len(store), store.rows) == (1, 10)  # nothing else was pushed out for it
    with pytest.raises(FeedbackError, match="not stored") as missing:
        store.score("big", [0] * 1001)
    assert missing.value.status == 404


def test_predictions_take_about_a_byte_a_row() -> None:
    """Compact: one small code per row, not a Python string per row (the store once held
    ~60 bytes a row, and 2.5 GiB for eight 4M-row requests)."""
    store = FeedbackStore()
    store.remember("a", "v1", np.random.default_rng(0).integers(0, 2, 60_000))
    assert store.nbytes < 61_000


def test_accounted_bytes_cover_what_the_store_allocates() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 3, int(n)) for n in rng.integers(1, 500, 300)]
    tracemalloc.start()
    try:
        store = FeedbackStore()
        before = tracemalloc.get_traced_memory()[0]
        for i, predictions in enumerate(batches):
            store.remember(f"request-{i:06d}", "v1", predictions)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= store.nbytes, (held, store.nbytes)


def test_remembering_an_id_again_replaces_it_and_forget_drops_it() -> None:
    store = FeedbackStore()
    store.remember("a", "v1", np.zeros(5, dtype=np.int64))
    store.remember("a", "v1", np.ones(2, dtype=np.int64))
    assert (len(store), store.rows) == (1, 2)
    store.forget("a")
    assert (len(store), store.rows, store.nbytes) == (0, 0, 0)


def test_object_and_string_predictions_compare_as_labels() -> None:
    store = FeedbackStore()
    store.remember("a", "v1", np.array(["no", 1, 2.0, True], dtype=object))
    assert store.score("a", ["no", "1", 2, True]).correct == 4

"""Shadow mirroring's pure parts: the exact share sampled, comparing answers."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from modelops.serving.shadow import Sampler, agreement, candidate_predictions


@pytest.mark.parametrize(("percent", "calls", "taken"), [(100, 50, 50), (30, 100, 30), (12.5, 80, 10), (1, 99, 1)])
def test_the_sampler_takes_exactly_the_share(percent: float, calls: int, taken: int) -> None:
    sampler = Sampler(percent)
    picks = [sampler.take() for _ in range(calls)]
    assert sum(picks) == taken
    assert picks[0]  # the first request is mirrored: a quiet service still gets compared


def test_classes_agree_as_feedback_labels_do() -> None:
    ours = np.array([1, 0, 1, 1])
    assert agreement(ours, [1, 0, 0, "1"], classification=True, tolerance=0) == (4, 3)
    assert agreement(np.array(["a", "b"]), ["a", "c"], classification=True, tolerance=0) == (2, 1)


def test_regressors_agree_within_the_tolerance() -> None:
    ours = np.array([1.0, 2.0, 3.0])
    assert agreement(ours, [1.0 + 1e-9, 2.1, 3.0], classification=False, tolerance=1e-6) == (3, 2)
    assert agreement(ours, ["x", 2.0, 3.0], classification=False, tolerance=1e-6) == (3, 0)


def test_a_different_row_count_compares_nothing() -> None:
    assert agreement(np.array([1, 0]), [1], classification=True, tolerance=0) == (0, 0)


def test_the_candidates_predictions_are_read_from_its_answer() -> None:
    outputs = [{"name": "predict_proba", "data": [0.1]}, {"name": "predict", "data": [1]}]
    answer = {"model_name": "m", "outputs": outputs}
    assert candidate_predictions(orjson.dumps(answer)) == [1]
    assert candidate_predictions(b'{"error": "no"}') is None
    assert candidate_predictions(b"not json") is None
    assert candidate_predictions(b"[1, 2]") is None

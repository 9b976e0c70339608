"""DriftDetected sets and clears only after `consecutive` verdicts in a row."""

from __future__ import annotations

from modelops.drift.decisions import Verdict, dataset_verdict, required_features
from modelops.drift.hysteresis import DriftState, advance, run


def _detected(verdicts: list[Verdict], consecutive: int = 2) -> list[bool]:
    return [s.detected for s in run(verdicts, consecutive)]


def test_sets_after_consecutive_drifted_verdicts() -> None:
    assert _detected(["Drifted", "Drifted", "Drifted"]) == [False, True, True]
    assert _detected(["Drifted", "Drifted", "Drifted"], consecutive=3) == [False, False, True]
    assert _detected(["Drifted"], consecutive=1) == [True]


def test_a_clean_verdict_in_between_restarts_the_count() -> None:
    assert _detected(["Drifted", "Clean", "Drifted", "Drifted"]) == [False, False, False, True]


def test_clears_only_after_consecutive_clean_verdicts() -> None:
    states = run(["Drifted", "Drifted", "Clean", "Drifted", "Clean", "Clean"], 2)
    assert [s.detected for s in states] == [False, True, True, True, True, False]


def test_insufficient_keeps_the_flag_and_breaks_streaks() -> None:
    assert _detected(["Drifted", "Drifted", "Insufficient", "Clean", "Insufficient", "Clean"]) == [
        False, True, True, True, True, True,
    ]
    assert _detected(["Drifted", "Insufficient", "Drifted"]) == [False, False, False]


def test_state_resumes_from_status() -> None:
    state = advance(DriftState(), "Drifted", 2)
    restored = DriftState.from_status(state.detected, state.streak_json())
    assert restored == state
    assert advance(restored, "Drifted", 2).detected


def test_dataset_verdicts() -> None:
    assert required_features(20, 0) == 1
    assert required_features(20, 15) == 3
    assert required_features(20, 16) == 4
    assert required_features(3, 100) == 3
    assert dataset_verdict(samples=10, min_samples=11, drifted=20, n_features=20, share_percent=0) == "Insufficient"
    assert dataset_verdict(samples=11, min_samples=11, drifted=1, n_features=20, share_percent=0) == "Drifted"
    assert dataset_verdict(samples=11, min_samples=11, drifted=0, n_features=20, share_percent=0) == "Clean"
    assert dataset_verdict(samples=11, min_samples=11, drifted=0, n_features=0, share_percent=0) == "Clean"

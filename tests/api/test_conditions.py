"""Conditions follow metav1.Condition and the kstatus rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelops.conditions import Desired, find, is_true, merge, transitions

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC)


def test_first_visit_stamps_transition_time_and_generation() -> None:
    conds = merge([], [Desired("Ready", "Unknown", "Reconciling", "starting")], generation=3, now=T0)
    assert conds == [
        {
            "type": "Ready",
            "status": "Unknown",
            "reason": "Reconciling",
            "message": "starting",
            "lastTransitionTime": "2026-11-27T10:00:00Z",
            "observedGeneration": 3,
        }
    ]


def test_transition_time_changes_only_when_status_flips() -> None:
    first = merge([], [Desired("Ready", "False", "WaitingForPods", "0/2")], generation=1, now=T0)
    same = merge(first, [Desired("Ready", "False", "WaitingForPods", "1/2")], generation=2, now=T1)
    assert same[0]["lastTransitionTime"] == "2026-11-27T10:00:00Z"
    assert same[0]["message"] == "1/2"
    assert same[0]["observedGeneration"] == 2
    flipped = merge(same, [Desired("Ready", "True", "Available", "2/2")], generation=2, now=T1)
    assert flipped[0]["lastTransitionTime"] == "2026-11-27T11:00:00Z"
    assert is_true(flipped, "Ready")


def test_reconciling_and_stalled_appear_only_while_true() -> None:
    conds = merge([], [Desired("Reconciling", "True", "Progressing")], generation=1, now=T0)
    assert find(conds, "Reconciling") is not None
    conds = merge(conds, [Desired("Reconciling", "False", "Done")], generation=1, now=T1)
    assert find(conds, "Reconciling") is None


def test_other_conditions_and_order_are_kept() -> None:
    conds = merge(
        [], [Desired("ArtifactVerified", "True", "Verified"), Desired("Ready", "True", "Verified")], 1, T0
    )
    conds = merge(conds, [Desired("Ready", "False", "VersionSkew")], 1, T1)
    assert [c["type"] for c in conds] == ["ArtifactVerified", "Ready"]
    assert is_true(conds, "ArtifactVerified")


def test_transitions_lists_status_and_reason_changes() -> None:
    before = merge([], [Desired("Ready", "False", "WaitingForPods")], 1, T0)
    after = merge(before, [Desired("Ready", "False", "VersionNotReady")], 1, T1)
    assert [(o or {}).get("reason") for o, _ in transitions(before, after)] == ["WaitingForPods"]
    assert transitions(after, after) == []


@pytest.mark.parametrize("reason", ["", "two words", "snake-case", "1Leading"])
def test_reasons_must_be_one_camel_case_word(reason: str) -> None:
    with pytest.raises(ValueError, match="reason"):
        Desired("Ready", "True", reason)

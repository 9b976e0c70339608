"""DriftDetected with hysteresis: ``consecutive`` verdicts in a row to set it and to clear it.

A small state machine over successive evaluations, whose whole state fits in a
DriftPolicy's status (the ``DriftDetected`` condition plus ``streak: {drifted, clean}``),
so an operator restarted at any moment resumes where it stopped.

An ``Insufficient`` evaluation says nothing about drift: it keeps ``detected`` as it was
and breaks both streaks, because verdicts "in a row" must be consecutive evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelops.drift.decisions import Verdict


@dataclass(frozen=True)
class DriftState:
    detected: bool = False
    drifted_streak: int = 0
    clean_streak: int = 0

    def streak_json(self) -> dict[str, int]:
        return {"drifted": self.drifted_streak, "clean": self.clean_streak}

    @classmethod
    def from_status(cls, detected: bool, streak: Mapping[str, Any] | None) -> DriftState:
        streak = streak or {}
        return cls(
            detected=detected,
            drifted_streak=int(streak.get("drifted", 0)),
            clean_streak=int(streak.get("clean", 0)),
        )


def advance(state: DriftState, verdict: Verdict, consecutive: int) -> DriftState:
    """The state after one more evaluation."""
    if consecutive < 1:
        raise ValueError(f"consecutive must be at least 1, got {consecutive}")
    if verdict == "Insufficient":
        return DriftState(detected=state.detected)
    if verdict == "Drifted":
        streak = state.drifted_streak + 1
        return DriftState(detected=state.detected or streak >= consecutive, drifted_streak=streak)
    if verdict == "Clean":
        streak = state.clean_streak + 1
        return DriftState(detected=state.detected and streak < consecutive, clean_streak=streak)
    raise ValueError(f"unknown verdict {verdict!r}")


def run(verdicts: Iterable[Verdict], consecutive: int, start: DriftState | None = None) -> list[DriftState]:
    """The states after each of successive verdicts."""
    state = start or DriftState()
    out = []
    for v in verdicts:
        state = advance(state, v, consecutive)
        out.append(state)
    return out

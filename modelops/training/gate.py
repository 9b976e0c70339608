"""The champion/challenger gate: a pure decision over two figures of one metric.

The challenger passes when it improves on the champion by at least ``min_improvement``
in the metric's own direction (higher accuracy, lower RMSE): ``improvement`` is
``challenger - champion`` for higher-is-better metrics and ``champion - challenger`` for
lower-is-better ones (log_loss, mae, rmse). Without a champion there is nothing to beat.
A champion that cannot be scored fails the gate (closed): a retrain never replaces a
model it could not compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Differences below this are rounding, not an improvement or a regression.
TOLERANCE = 1e-12


@dataclass(frozen=True)
class GateVerdict:
    metric: str
    higher_is_better: bool
    challenger: float
    champion: float | None
    min_improvement: float
    passed: bool
    reason: str  # CamelCase: Improved, NotImproved, NoChampion, ChampionNotComparable
    message: str

    @property
    def improvement(self) -> float | None:
        if self.champion is None:
            return None
        diff = self.challenger - self.champion
        return diff if self.higher_is_better else -diff

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric": self.metric,
            "higherIsBetter": self.higher_is_better,
            "challenger": self.challenger,
            "minImprovement": self.min_improvement,
            "passed": self.passed,
            "reason": self.reason,
            "message": self.message,
        }
        if self.champion is not None:
            out["champion"] = self.champion
            out["improvement"] = self.improvement
        return out


def decide(
    metric: str,
    higher_is_better: bool,
    challenger: float,
    champion: float | None,
    min_improvement: float,
    *,
    champion_problem: str | None = None,
) -> GateVerdict:
    """The verdict; ``champion_problem`` says why a champion exists but has no figure."""
    def verdict(passed: bool, reason: str, message: str, champ: float | None = champion) -> GateVerdict:
        return GateVerdict(metric, higher_is_better, challenger, champ, min_improvement, passed, reason, message)

    if not math.isfinite(challenger):
        return verdict(False, "ChallengerNotComparable", f"the challenger's {metric} is {challenger}")
    if champion_problem is not None:
        return verdict(False, "ChampionNotComparable", f"the champion's {metric} cannot be computed: "
                       f"{champion_problem}", None)
    if champion is None:
        return verdict(True, "NoChampion", f"no champion to compare with; challenger {metric} {challenger:.4f}")
    if not math.isfinite(champion):
        return verdict(False, "ChampionNotComparable", f"the champion's {metric} is {champion}")
    diff = challenger - champion
    improvement = diff if higher_is_better else -diff
    direction = "higher" if higher_is_better else "lower"
    figures = (f"challenger {metric} {challenger:.4f} vs champion {champion:.4f} ({direction} is better): "
               f"improvement {improvement:+.4f}, at least {min_improvement:+.4f} required")
    if improvement + TOLERANCE >= min_improvement:
        return verdict(True, "Improved", figures)
    return verdict(False, "NotImproved", figures)

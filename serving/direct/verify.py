"""The rule every direct predictor passes before it is used: on the check rows its
predictions equal scikit-learn's exactly and its probabilities match to ``PROBA_TOLERANCE``."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

PROBA_TOLERANCE = 1e-12


class Answers(Protocol):
    def predict(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[Any]: ...

    def predict_proba(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...


def disagreement(
    direct: Answers,
    estimator: Any,
    rows: npt.NDArray[np.float64],
    proba: bool,
    *,
    tolerance: float = PROBA_TOLERANCE,
    relative: float = 0.0,
) -> str | None:
    """Why ``direct`` cannot stand in for ``estimator`` on ``rows``, or None when it can.
    Probabilities may differ by ``tolerance + relative * |scikit-learn's|``."""
    both = getattr(direct, "answers", None)  # one pass for both answers, where offered
    ours_both = both(rows, proba) if both is not None else (direct.predict(rows), None)
    ours, theirs = np.asarray(ours_both[0]), np.asarray(estimator.predict(rows))
    if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
        if ours.shape != theirs.shape:
            return f"its predictions have shape {ours.shape}, scikit-learn's {theirs.shape}"
        wrong = np.flatnonzero(ours != theirs)
        first = int(wrong[0])
        return (
            f"its predictions differ from scikit-learn's on {len(wrong)} of {len(rows)} check rows "
            f"(row {first}: {ours[first]!r} instead of {theirs[first]!r})"
        )
    if proba:
        ours_p = np.asarray(ours_both[1] if ours_both[1] is not None else direct.predict_proba(rows), dtype=np.float64)
        theirs_p = np.asarray(estimator.predict_proba(rows), dtype=np.float64)
        if ours_p.shape != theirs_p.shape:
            return f"its probabilities have shape {ours_p.shape}, scikit-learn's {theirs_p.shape}"
        # NaN on either side (a gap that is NaN) is a disagreement too: count it as infinite.
        gap = np.nan_to_num(np.abs(ours_p - theirs_p), nan=np.inf)
        if gap.size and not np.all(gap <= tolerance + relative * np.abs(theirs_p)):
            return (
                f"its probabilities differ from scikit-learn's by up to {gap.max():.3g} "
                f"(more than {tolerance:g}{f' + {relative:g} x theirs' if relative else ''}) on the check rows"
            )
    return None

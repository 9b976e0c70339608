"""The preprocessing a direct predictor may take over: StandardScalers ahead of the model
in a Pipeline, applied with scikit-learn's own arithmetic (``x -= mean_; x /= scale_``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Scale:
    mean: npt.NDArray[np.float64] | None
    scale: npt.NDArray[np.float64] | None


def apply(scales: tuple[Scale, ...], rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x = rows
    for s in scales:
        if s.mean is not None:
            x = x - s.mean
        if s.scale is not None:
            x = x / s.scale
    return x


def undo(scales: tuple[Scale, ...], x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Rows that the scalers map (to within rounding) onto ``x``: to check a pipeline end to
    end on rows chosen in the final model's input space."""
    for s in reversed(scales):
        if s.scale is not None:
            x = x * s.scale
        if s.mean is not None:
            x = x + s.mean
    return x


def unpack(estimator: Any) -> tuple[tuple[Scale, ...], Any] | str:
    """(the scalers, the final model) of ``estimator``, or why its steps are not ours to take."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if type(estimator) is not Pipeline:
        return (), estimator
    *head, (_, last) = estimator.steps
    scales = []
    for name, step in head:
        if type(step) is not StandardScaler:
            return f"pipeline step {name!r} is a {type(step).__name__}, not a StandardScaler"
        scales.append(
            Scale(
                np.asarray(step.mean_, dtype=np.float64) if step.with_mean else None,
                np.asarray(step.scale_, dtype=np.float64) if step.with_std else None,
            )
        )
    return tuple(scales), last

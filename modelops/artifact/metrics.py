"""Offline metrics recorded in metadata.json, computed on the reference (holdout) data."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.artifact.metadata import ClassLabel, Task


def offline_metrics(
    model: Any,
    x: Any,
    y_true: npt.ArrayLike,
    predictions: npt.ArrayLike,
    *,
    task: Task,
    classes: Sequence[ClassLabel] = (),
) -> dict[str, float]:
    """accuracy, f1 and roc_auc for classifiers (f1 of the second class when binary, macro
    otherwise; roc_auc one-vs-rest macro when multiclass); r2, mae and rmse for regressors.
    A metric that is undefined on this data (say roc_auc with one class present) is left out."""
    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        if task == "classification":
            values = _classification(model, x, np.asarray(y_true), np.asarray(predictions), list(classes))
        else:
            values = _regression(
                np.asarray(y_true, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
            )
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def _classification(
    model: Any, x: Any, y: npt.NDArray[Any], pred: npt.NDArray[Any], classes: list[ClassLabel]
) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, f1_score

    binary = len(classes) == 2
    out: dict[str, float | None] = {"accuracy": float(accuracy_score(y, pred))}
    if binary:
        out["f1"] = float(f1_score(y, pred, pos_label=classes[1], average="binary", zero_division=0))
    else:
        out["f1"] = float(f1_score(y, pred, labels=classes, average="macro", zero_division=0))
    out["roc_auc"] = _roc_auc(model, x, y, classes)
    return out


def _roc_auc(model: Any, x: Any, y: npt.NDArray[Any], classes: list[ClassLabel]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    if hasattr(model, "predict_proba"):
        scores = np.asarray(model.predict_proba(x))
    elif hasattr(model, "decision_function"):
        scores = np.asarray(model.decision_function(x))
    else:
        return None
    try:
        if len(classes) == 2:
            positive = scores[:, 1] if scores.ndim == 2 else scores
            return float(roc_auc_score(np.asarray(y) == classes[1], positive))
        if scores.ndim != 2 or len(np.unique(y)) != len(classes):
            # One-vs-rest AUC needs every class present in the reference labels.
            return None
        return float(roc_auc_score(y, scores, multi_class="ovr", average="macro", labels=classes))
    except ValueError:
        return None


def _regression(y: npt.NDArray[np.float64], pred: npt.NDArray[np.float64]) -> dict[str, float | None]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "r2": float(r2_score(y, pred)) if y.size >= 2 else None,
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": math.sqrt(float(mean_squared_error(y, pred))),
    }

"""What a model predicts on a holdout, computed once and scored by every metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.artifact.metadata import ClassLabel, Task, json_labels
from modelops.drift.categories import category_key
from modelops.evaluation.errors import EvaluationError


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on ``len(y_true)`` holdout rows.

    For a classifier ``classes`` are the model's classes (``classes_`` order) and
    ``probabilities``, when the model has ``predict_proba``, has one column per class in
    that order. Holdout labels are spelled as the model's classes (``1.0`` read from a CSV
    is the class ``1``); labels the model does not know stay as they are and are listed
    in ``unknown_labels``.
    """

    task: Task
    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    classes: tuple[ClassLabel, ...] = ()
    probabilities: npt.NDArray[np.float64] | None = None
    unknown_labels: tuple[str, ...] = ()
    model: str = "the model"

    def __post_init__(self) -> None:
        n = len(self.y_true)
        if len(self.y_pred) != n:
            raise ValueError(f"{len(self.y_pred)} predictions for {n} holdout labels")
        if self.task == "classification" and not self.classes:
            raise ValueError("a classifier's predictions need its classes")
        if self.probabilities is not None and self.probabilities.shape != (n, len(self.classes)):
            raise ValueError(
                f"probabilities of shape {self.probabilities.shape}, expected ({n}, {len(self.classes)})"
            )

    @property
    def rows(self) -> int:
        return len(self.y_true)


def predict(model: Any, x: Any, y_true: npt.ArrayLike, *, name: str | None = None) -> Predictions:
    """Run ``model`` on the holdout ``x`` once: labels, and class probabilities when the
    model has ``predict_proba``."""
    from sklearn.base import is_classifier, is_regressor

    who = name or type(model).__name__
    y = np.asarray(y_true).ravel()
    if y.size == 0:
        raise EvaluationError("EmptyHoldout", f"the holdout has no rows to evaluate {who} on")
    if is_regressor(model) and not is_classifier(model):
        y_float = _floats(y, who)
        pred = np.asarray(model.predict(x), dtype=np.float64).ravel()
        return Predictions(task="regression", y_true=y_float, y_pred=pred, model=who)
    if not is_classifier(model):
        raise EvaluationError("WrongTask", f"{who} ({type(model).__name__}) is neither a classifier nor a regressor")
    classes = tuple(json_labels(model.classes_))
    y_known, unknown = _as_classes(y, classes)
    pred = np.asarray(model.predict(x)).ravel()
    proba = None
    if callable(getattr(model, "predict_proba", None)):
        proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    return Predictions(
        task="classification",
        y_true=y_known,
        y_pred=pred,
        classes=classes,
        probabilities=proba,
        unknown_labels=unknown,
        model=who,
    )


def _floats(y: npt.NDArray[Any], who: str) -> npt.NDArray[np.float64]:
    try:
        out = y.astype(np.float64)
    except (TypeError, ValueError):
        raise EvaluationError("WrongTask", f"{who} is a regressor but the holdout target is not numeric") from None
    if np.isnan(out).any():
        raise EvaluationError("MetricUndefined", f"the holdout target has {int(np.isnan(out).sum())} missing values")
    return out


def _as_classes(y: npt.NDArray[Any], classes: tuple[ClassLabel, ...]) -> tuple[npt.NDArray[Any], tuple[str, ...]]:
    """Holdout labels spelled as the model's classes, and the labels that are none of them."""
    by_key = {category_key(c): c for c in classes}
    out: list[Any] = []
    unknown: set[str] = set()
    for v in y.tolist():
        key = category_key(v)
        if key is None:
            raise EvaluationError("MetricUndefined", "the holdout target has missing values")
        if key in by_key:
            out.append(by_key[key])
        else:
            unknown.add(key)
            out.append(v)
    labels = np.asarray(out)
    if labels.dtype == object:
        # ints and strings mixed: only possible with labels the model does not know
        raise EvaluationError(
            "UnknownLabel",
            f"holdout labels {', '.join(sorted(unknown))} are not of the kind of the model's classes "
            f"{list(classes)}",
        )
    return labels, tuple(sorted(unknown))

"""Every metric once: its name, task, direction, input, and the function that computes it.

Conventions (the same for the gate and for validation):

- Binary classifiers: precision, recall and f1 are those of the *positive* class, the
  second of the model's ``classes_`` (scikit-learn's order, so ``1`` of ``0/1`` and
  ``True`` of ``False/True``); roc_auc scores that class's probability.
- Multiclass: precision, recall and f1 are macro averages over the labels present in
  the holdout or the predictions; roc_auc is one-vs-rest, macro, and needs every class
  among the holdout labels.
- Per class (``class_label``): precision, recall, f1 and roc_auc (one-vs-rest) of that
  class; accuracy, balanced_accuracy and log_loss have no per-class value.
- precision of a class never predicted is 0 (scikit-learn's ``zero_division=0``); a
  figure that depends on a class absent from the holdout labels is an EvaluationError,
  never a silent 0.
- roc_auc and log_loss read probabilities (``predict_proba``), the rest read labels.

Each function has the ``(y_true, y_input) -> float`` shape that fairlearn's MetricFrame
takes, with ``y_input`` the labels or the probability matrix (see ``MetricSpec.input``),
and checks its own preconditions, so a group too small for a figure fails by name there too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelops.artifact.metadata import ClassLabel, Task
from modelops.drift.categories import category_key
from modelops.evaluation.errors import EvaluationError

MetricName = Literal[
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "r2", "mae", "rmse"
]
MetricInput = Literal["labels", "probabilities"]
MetricFunction = Callable[[npt.NDArray[Any], npt.NDArray[Any]], float]


@dataclass(frozen=True)
class MetricSpec:
    name: MetricName
    task: Task
    higher_is_better: bool
    input: MetricInput = "labels"
    per_class: bool = False


METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        MetricSpec("accuracy", "classification", True),
        MetricSpec("balanced_accuracy", "classification", True),
        MetricSpec("precision", "classification", True, per_class=True),
        MetricSpec("recall", "classification", True, per_class=True),
        MetricSpec("f1", "classification", True, per_class=True),
        MetricSpec("roc_auc", "classification", True, input="probabilities", per_class=True),
        MetricSpec("log_loss", "classification", False, input="probabilities"),
        MetricSpec("r2", "regression", True),
        MetricSpec("mae", "regression", False),
        MetricSpec("rmse", "regression", False),
    )
}
CLASSIFICATION_METRICS = tuple(n for n, s in METRICS.items() if s.task == "classification")
REGRESSION_METRICS = tuple(n for n, s in METRICS.items() if s.task == "regression")
LOWER_IS_BETTER = frozenset(n for n, s in METRICS.items() if not s.higher_is_better)


def metric_spec(name: str) -> MetricSpec:
    """The metric called ``name`` (case-insensitive); UnknownMetric listing the known ones."""
    spec = METRICS.get(name.strip().lower())
    if spec is None:
        raise EvaluationError("UnknownMetric", f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return spec


def higher_is_better(name: str) -> bool:
    return metric_spec(name).higher_is_better


def metric_function(
    name: str, task: Task, classes: Sequence[ClassLabel] = (), class_label: Any = None
) -> tuple[MetricFunction, MetricInput]:
    """The function computing metric ``name`` for a model of ``task`` with ``classes``
    (of ``class_label`` when given), and whether it takes labels or probabilities."""
    spec = metric_spec(name)
    if spec.task != task:
        raise EvaluationError("WrongTask", f"{spec.name} is a {spec.task} metric; the model does {task}")
    if spec.task == "regression":
        if class_label is not None:
            raise EvaluationError("NotPerClass", f"{spec.name} has no per-class value (class {class_label!r})")
        return _REGRESSION[spec.name], spec.input
    labels = tuple(classes)
    if class_label is not None and not spec.per_class:
        raise EvaluationError("NotPerClass", f"{spec.name} has no per-class value (class {class_label!r})")
    target = _find_class(labels, class_label) if class_label is not None else None
    return _classification(spec, labels, target), spec.input


def _find_class(classes: tuple[ClassLabel, ...], wanted: Any) -> ClassLabel:
    """The model's class named ``wanted`` ("1" names the class 1, as in a CRD)."""
    key = category_key(wanted)
    for c in classes:
        if category_key(c) == key:
            return c
    raise EvaluationError("UnknownClass", f"class {wanted!r} is not one of the model's classes {list(classes)}")


def _classification(spec: MetricSpec, classes: tuple[ClassLabel, ...], target: ClassLabel | None) -> MetricFunction:
    binary = len(classes) == 2
    if spec.name in ("accuracy", "balanced_accuracy"):
        return _balanced_accuracy if spec.name == "balanced_accuracy" else _accuracy
    if spec.name == "log_loss":
        return lambda y, proba: _log_loss(y, proba, classes)
    positive = target if target is not None else (classes[1] if binary else None)
    if spec.name == "roc_auc":
        if positive is not None:
            return lambda y, proba: _roc_auc_of(y, proba, classes, positive)
        return lambda y, proba: _roc_auc_ovr(y, proba, classes)
    return lambda y, pred: _prf(spec.name, y, pred, positive)


def _sk(compute: Callable[[], Any]) -> float:
    """A scikit-learn figure with its warnings silenced: every undefined case is refused
    by name before this runs, and pytest (like a careful caller) treats warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(compute())


def _nonempty(y: npt.NDArray[Any], name: str) -> None:
    if len(y) == 0:
        raise EvaluationError("EmptyHoldout", f"{name} of no rows")


def _accuracy(y: npt.NDArray[Any], pred: npt.NDArray[Any]) -> float:
    from sklearn.metrics import accuracy_score

    _nonempty(y, "accuracy")
    return _sk(lambda: accuracy_score(y, pred))


def _balanced_accuracy(y: npt.NDArray[Any], pred: npt.NDArray[Any]) -> float:
    from sklearn.metrics import balanced_accuracy_score

    _nonempty(y, "balanced_accuracy")
    return _sk(lambda: balanced_accuracy_score(y, pred))


def _prf(name: str, y: npt.NDArray[Any], pred: npt.NDArray[Any], positive: ClassLabel | None) -> float:
    from sklearn.metrics import f1_score, precision_score, recall_score

    fn = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[name]
    _nonempty(y, name)
    if positive is None:
        return _sk(lambda: fn(y, pred, average="macro", zero_division=0))
    if name != "precision" and not np.any(y == positive):
        raise EvaluationError(
            "ClassAbsent", f"{name} of class {positive!r} is undefined: no holdout row has that label"
        )
    return _sk(lambda: fn(y, pred, labels=[positive], average="macro", zero_division=0))


def _proba_checks(name: str, y: npt.NDArray[Any], proba: npt.NDArray[Any], classes: tuple[ClassLabel, ...]) -> None:
    _nonempty(y, name)
    if proba is None or np.ndim(proba) != 2 or np.shape(proba)[1] != len(classes):
        raise EvaluationError("NoProbabilities", f"{name} needs one probability column per class {list(classes)}")
    unknown = sorted({str(v) for v in y.tolist()} - {str(c) for c in classes})
    if unknown:
        raise EvaluationError(
            "UnknownLabel", f"{name}: holdout labels {', '.join(unknown)} are not classes of the model {list(classes)}"
        )


def _roc_auc_of(
    y: npt.NDArray[Any], proba: npt.NDArray[Any], classes: tuple[ClassLabel, ...], positive: ClassLabel
) -> float:
    from sklearn.metrics import roc_auc_score

    _proba_checks("roc_auc", y, proba, classes)
    hits = y == positive
    if len(np.unique(y)) < 2:
        raise EvaluationError(
            "SingleClassHoldout", f"roc_auc is undefined: every holdout row has the label {y[0]!r}"
        )
    if not hits.any():
        raise EvaluationError("ClassAbsent", f"roc_auc of class {positive!r}: no holdout row has that label")
    column = proba[:, classes.index(positive)]
    return _sk(lambda: roc_auc_score(hits, column))


def _roc_auc_ovr(y: npt.NDArray[Any], proba: npt.NDArray[Any], classes: tuple[ClassLabel, ...]) -> float:
    from sklearn.metrics import roc_auc_score

    _proba_checks("roc_auc", y, proba, classes)
    present = set(y.tolist())
    if len(present) < 2:
        raise EvaluationError(
            "SingleClassHoldout", f"roc_auc is undefined: every holdout row has the label {y[0]!r}"
        )
    absent = [c for c in classes if c not in present]
    if absent:
        raise EvaluationError(
            "ClassAbsent",
            f"one-vs-rest roc_auc needs every class among the holdout labels; absent: {absent}",
        )
    return _sk(lambda: roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(classes)))


def _log_loss(y: npt.NDArray[Any], proba: npt.NDArray[Any], classes: tuple[ClassLabel, ...]) -> float:
    from sklearn.metrics import log_loss

    _proba_checks("log_loss", y, proba, classes)
    return _sk(lambda: log_loss(y, proba, labels=list(classes)))


def _r2(y: npt.NDArray[Any], pred: npt.NDArray[Any]) -> float:
    from sklearn.metrics import r2_score

    if len(y) < 2:
        raise EvaluationError("MetricUndefined", f"r2 needs at least 2 holdout rows, got {len(y)}")
    if np.all(y == y[0]):
        raise EvaluationError("MetricUndefined", f"r2 is undefined: every holdout target is {float(y[0])}")
    return _sk(lambda: r2_score(y, pred))


def _mae(y: npt.NDArray[Any], pred: npt.NDArray[Any]) -> float:
    from sklearn.metrics import mean_absolute_error

    _nonempty(y, "mae")
    return _sk(lambda: mean_absolute_error(y, pred))


def _rmse(y: npt.NDArray[Any], pred: npt.NDArray[Any]) -> float:
    from sklearn.metrics import root_mean_squared_error

    _nonempty(y, "rmse")
    return _sk(lambda: root_mean_squared_error(y, pred))


_REGRESSION: dict[str, MetricFunction] = {"r2": _r2, "mae": _mae, "rmse": _rmse}

"""Scoring predictions: one figure, or a list of them as values for status and results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelops.evaluation.catalog import CLASSIFICATION_METRICS, REGRESSION_METRICS, metric_function, metric_spec
from modelops.evaluation.errors import EvaluationError
from modelops.evaluation.predictions import Predictions


@dataclass(frozen=True)
class MetricRequest:
    """A metric to compute, of one class when ``class_label`` is set."""

    name: str
    class_label: str | None = None


@dataclass(frozen=True)
class MetricResult:
    name: str
    value: float
    higher_is_better: bool
    class_label: str | None = None

    @property
    def key(self) -> str:
        """``recall`` or ``recall[1]``: a stable name for dicts and messages."""
        return self.name if self.class_label is None else f"{self.name}[{self.class_label}]"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.name, "value": self.value}
        if self.class_label is not None:
            out["class"] = self.class_label
        return out


def score(predictions: Predictions, name: str, class_label: Any = None) -> float:
    """Metric ``name`` of ``predictions`` (of one class when given); EvaluationError when the
    model or the holdout cannot give it."""
    spec = metric_spec(name)
    fn, needs = metric_function(spec.name, predictions.task, predictions.classes, class_label)
    if needs == "probabilities":
        if predictions.probabilities is None:
            raise EvaluationError(
                "NoProbabilities",
                f"{spec.name} needs class probabilities, and {predictions.model} has no predict_proba "
                "(choose a metric on labels, or a classifier with predict_proba)",
            )
        return fn(predictions.y_true, predictions.probabilities)
    return fn(predictions.y_true, predictions.y_pred)


def evaluate(
    predictions: Predictions, requests: Sequence[MetricRequest], *, skip_undefined: bool = False
) -> list[MetricResult]:
    """The requested figures in order. With ``skip_undefined`` a figure the model or data
    cannot give is left out instead of raising (an unknown metric always raises)."""
    out = []
    for r in requests:
        spec = metric_spec(r.name)
        try:
            value = score(predictions, spec.name, r.class_label)
        except EvaluationError as exc:
            if not skip_undefined or exc.reason in ("UnknownMetric", "WrongTask", "NotPerClass", "UnknownClass"):
                raise
            continue
        out.append(MetricResult(spec.name, value, spec.higher_is_better, r.class_label))
    return out


def default_metrics(predictions: Predictions) -> list[MetricRequest]:
    """Every whole-model metric of the predictions' task."""
    names = CLASSIFICATION_METRICS if predictions.task == "classification" else REGRESSION_METRICS
    return [MetricRequest(n) for n in names]

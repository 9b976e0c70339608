"""The one error the evaluation module raises: a metric that cannot be computed here,
with a CamelCase reason (for conditions and the trainer's result) and a message naming
the metric, the class and the figure that made it impossible."""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "UnknownMetric",  # not a metric name this module knows
    "WrongTask",  # a classifier metric asked of a regressor, or the reverse
    "NotPerClass",  # a class given for a metric that has no per-class value
    "UnknownClass",  # a class the model does not predict
    "NoProbabilities",  # roc_auc / log_loss of a model without predict_proba
    "EmptyHoldout",  # no rows to judge on
    "SingleClassHoldout",  # roc_auc needs both outcomes among the holdout labels
    "ClassAbsent",  # a per-class or one-vs-rest figure of a class the holdout lacks
    "UnknownLabel",  # holdout labels the model has no probability column for
    "MetricUndefined",  # any other figure the data leaves undefined (r2 of a constant target)
]


class EvaluationError(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message

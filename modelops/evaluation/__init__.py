"""Model evaluation shared by the retraining gate (`modelops train`) and validation
(`modelops validate`): one implementation of every metric, thin typed wrappers over
``sklearn.metrics``.

    preds = predict(model, x, y_true)            # labels, probabilities when the model has them
    score(preds, "roc_auc")                      # one figure
    score(preds, "recall", class_label="1")      # per class
    evaluate(preds, [MetricRequest("f1")])       # several, as MetricResult values

Classifiers: accuracy, balanced_accuracy, precision, recall, f1, roc_auc, log_loss.
Regressors: r2, mae, rmse. Binary and multiclass are handled explicitly (see
``modelops.evaluation.catalog``). A figure that cannot be computed raises
``EvaluationError`` with a CamelCase reason, never a bare scikit-learn exception or warning.

Fairness (fairlearn's MetricFrame) plugs in through ``metric_function``: it gives the
``(y_true, y_pred) -> float`` callable of a metric and whether it reads labels or
probabilities, which is what a MetricFrame takes, so group figures use the same code.
"""

from __future__ import annotations

from modelops.evaluation.catalog import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    REGRESSION_METRICS,
    MetricInput,
    MetricName,
    MetricSpec,
    higher_is_better,
    metric_function,
    metric_spec,
)
from modelops.evaluation.errors import EvaluationError, Reason
from modelops.evaluation.predictions import Predictions, predict
from modelops.evaluation.results import MetricRequest, MetricResult, default_metrics, evaluate, score

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "EvaluationError",
    "MetricInput",
    "MetricName",
    "MetricRequest",
    "MetricResult",
    "MetricSpec",
    "Predictions",
    "Reason",
    "default_metrics",
    "evaluate",
    "higher_is_better",
    "metric_function",
    "metric_spec",
    "predict",
    "score",
]

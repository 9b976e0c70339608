"""The direct predictor of plain linear models.

scikit-learn 1.9 spends ~0.2-0.5 ms per ``predict`` call validating its input (dataframe
detection, array-API namespaces, feature names), against microseconds of arithmetic for a
linear model. The rows reaching the model are already validated by the codec (shape,
dtype, finiteness), so for the plain linear models below this module computes the same
``X @ coef.T + intercept`` and applies scikit-learn's own decision rule.

``compile_linear`` answers only for exactly known estimator types (optionally behind
StandardScalers in a Pipeline); whether its predictor is then used is decided in
``modelops.serving.direct`` by checking it against scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.serving.direct import scaling

# Probabilities through a matrix product and softmax: equal to scikit-learn's to rounding
# (numpy.allclose's rule: 1e-12 + 1e-9 x scikit-learn's).
PROBA_TOLERANCE = 1e-12
PROBA_RELATIVE = 1e-9


class LinearPredictor:
    kind = "linear"

    def __init__(
        self,
        scales: tuple[scaling.Scale, ...],
        coef: npt.NDArray[np.float64],
        intercept: npt.NDArray[np.float64],
        classes: npt.NDArray[Any] | None,
        name: str,
    ) -> None:
        self.scales = scales
        self.coef = coef
        self.intercept = intercept
        self.classes = classes
        self.description = f"direct linear predictor ({name})"

    def _scores(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x = scaling.apply(self.scales, rows)
        if self.classes is None:  # a regressor: coef is (F,) or (1, F)
            return np.asarray(x @ self.coef.T + self.intercept, dtype=np.float64).reshape(len(x))
        scores = x @ self.coef.T + self.intercept
        return np.asarray(scores.ravel() if scores.shape[1] == 1 else scores, dtype=np.float64)

    def predict(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        scores = self._scores(rows)
        if self.classes is None:
            return scores
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return np.asarray(self.classes.take(index, axis=0))

    def predict_proba(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        from scipy.special import expit, softmax

        scores = self._scores(rows)
        if scores.ndim == 1:
            p = expit(scores)
            return np.asarray(np.column_stack([1.0 - p, p]), dtype=np.float64)
        return np.asarray(softmax(scores, axis=1), dtype=np.float64)


def _linear(estimator: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any] | None] | None:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge

    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", None)
    if coef is None or intercept is None:
        return None
    if type(estimator) is LogisticRegression:
        return np.asarray(coef, np.float64), np.atleast_1d(np.asarray(intercept, np.float64)), estimator.classes_
    if type(estimator) in (LinearRegression, Ridge, Lasso, ElasticNet) and np.ndim(coef) == 1:
        return np.asarray(coef, np.float64), np.asarray(intercept, np.float64), None
    return None


def compile_linear(scales: tuple[scaling.Scale, ...], final: Any) -> LinearPredictor | None:
    """The direct predictor of ``final`` (behind ``scales``), or None unless it is a known
    linear model; not yet checked against scikit-learn."""
    linear = _linear(final)
    if linear is None:
        return None
    return LinearPredictor(scales, *linear, name=type(final).__name__)

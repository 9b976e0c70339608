"""A direct predictor for linear models, used only once proven equal to scikit-learn's.

scikit-learn 1.9 spends ~0.2-0.5 ms per ``predict`` call validating its input (dataframe
detection, array-API namespaces, feature names), against microseconds of arithmetic for a
linear model. The rows reaching the model are already validated by the codec (shape,
dtype, finiteness), so for the plain linear models below this module computes the same
``X @ coef.T + intercept`` and applies scikit-learn's own decision rule.

Safety: ``compile_linear`` returns a predictor only for exactly known estimator types
(optionally behind StandardScalers in a Pipeline), and only after its predictions equal
scikit-learn's, and its probabilities match to 1e-9, on rows spread over the profile's
range. Anything else (another estimator, a subclass, a mismatch) keeps scikit-learn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import Profile

log = logging.getLogger(__name__)

_CHECK_ROWS = 512


@dataclass(frozen=True)
class _Scale:
    mean: npt.NDArray[np.float64] | None
    scale: npt.NDArray[np.float64] | None


class LinearPredictor:
    def __init__(
        self,
        scales: list[_Scale],
        coef: npt.NDArray[np.float64],
        intercept: npt.NDArray[np.float64],
        classes: npt.NDArray[Any] | None,
    ) -> None:
        self.scales = scales
        self.coef = coef
        self.intercept = intercept
        self.classes = classes

    def _scores(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x = rows
        for s in self.scales:
            if s.mean is not None:
                x = x - s.mean
            if s.scale is not None:
                x = x / s.scale
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


def _unpack(estimator: Any) -> tuple[list[_Scale], Any] | None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scales: list[_Scale] = []
    if type(estimator) is Pipeline:
        *head, (_, last) = estimator.steps
        for _, step in head:
            if type(step) is not StandardScaler:
                return None
            scales.append(
                _Scale(
                    np.asarray(step.mean_, dtype=np.float64) if step.with_mean else None,
                    np.asarray(step.scale_, dtype=np.float64) if step.with_std else None,
                )
            )
        estimator = last
    return scales, estimator


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


def check_rows(profile: Profile, n: int = _CHECK_ROWS, seed: int = 0) -> npt.NDArray[np.float64]:
    """Rows spread over (and past) every numeric feature's binned range."""
    rng = np.random.default_rng(seed)
    columns = []
    for feature in profile.features:
        edges = np.asarray(feature.edges, dtype=np.float64)
        low, high = (float(edges.min()), float(edges.max())) if edges.size else (-1.0, 1.0)
        span = max(high - low, 1.0)
        columns.append(rng.uniform(low - span, high + span, n))
    return np.column_stack(columns) if columns else np.zeros((n, 0))


def compile_linear(estimator: Any, profile: Profile, proba: bool) -> LinearPredictor | None:
    """The direct predictor of ``estimator``, or None unless it is a known linear model
    whose answers on the check rows equal scikit-learn's."""
    try:
        unpacked = _unpack(estimator)
        if unpacked is None:
            return None
        scales, final = unpacked
        linear = _linear(final)
        if linear is None:
            return None
        predictor = LinearPredictor(scales, *linear)
        rows = check_rows(profile)
        if not np.array_equal(predictor.predict(rows), np.asarray(estimator.predict(rows))):
            log.warning("direct linear predictor disagrees with scikit-learn: not used")
            return None
        if proba and not np.allclose(
            predictor.predict_proba(rows), estimator.predict_proba(rows), rtol=1e-9, atol=1e-12
        ):
            log.warning("direct linear probabilities disagree with scikit-learn: not used")
            return None
    except Exception:  # any surprise in an estimator's attributes: keep scikit-learn
        log.debug("no direct linear predictor", exc_info=True)
        return None
    return predictor

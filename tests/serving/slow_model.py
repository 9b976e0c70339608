"""A classifier that takes its time: holds requests in flight for the drain and overload
tests. Served from a trusted joblib artifact (skops rightly refuses unknown types)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class SlowClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, delay: float = 0.3) -> None:
        self.delay = delay

    def fit(self, x: npt.NDArray[Any], y: npt.NDArray[Any]) -> SlowClassifier:
        self.model_ = LogisticRegression(max_iter=1000).fit(x, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        time.sleep(self.delay)
        return np.asarray(self.model_.predict(x))

    def predict_proba(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return np.asarray(self.model_.predict_proba(x), dtype=np.float64)

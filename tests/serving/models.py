"""Plain fitted models wrapped as ServedModel, for the tests that need no artifact."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.serving.model import Feature, ServedModel
from tests.serving.support import cancer_data


@functools.cache
def _logistic() -> object:
    x, y, _ = cancer_data()
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


def served(estimator: object | None = None, name: str = "cancer") -> ServedModel:
    x, _y, names = cancer_data()
    model = estimator if estimator is not None else _logistic()
    predictions = model.predict(x)  # type: ignore[attr-defined]
    profile = Profile(
        features=tuple(numeric_profile(n, x[:, j]) for j, n in enumerate(names)),
        output=categorical_profile("predict", predictions),
    )
    return ServedModel(
        model,
        name=name,
        version="v1",
        features=tuple(Feature(n, "numeric") for n in names),
        profile=profile,
        task="classification",
    )


def served_nan_tolerant() -> ServedModel:
    x, y, _ = cancer_data()
    return served(HistGradientBoostingClassifier(max_iter=20).fit(x, y))


def rows(n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    x, _, _ = cancer_data()
    return x[np.random.default_rng(seed).integers(0, len(x), n)]

"""The direct linear predictor: used only for known linear models, and then it answers
exactly as scikit-learn does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.serving.direct import choose
from modelops.serving.direct.linear import LinearPredictor
from modelops.serving.direct.rows import profile_rows
from tests.serving.support import cancer_data

X, Y, NAMES = cancer_data()


def profile_of(x: np.ndarray[Any, Any], predictions: np.ndarray[Any, Any]) -> Profile:
    return Profile(
        features=tuple(numeric_profile(n, x[:, j]) for j, n in enumerate(NAMES)),
        output=categorical_profile("predict", predictions),
    )


class OwnLogistic(LogisticRegression):  # type: ignore[misc]
    """A subclass may change predict: never taken for a plain LogisticRegression."""


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=5000),
        make_pipeline(StandardScaler(), LogisticRegression()),
        make_pipeline(StandardScaler(with_mean=False), StandardScaler(), LogisticRegression(C=0.1)),
    ],
    ids=["logistic", "scaled", "two-scalers"],
)
@pytest.mark.parametrize("labels", ["binary", "three-strings"])
def test_linear_classifiers_answer_exactly_as_scikit_learn(estimator: Any, labels: str) -> None:
    y = Y if labels == "binary" else np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [12, 16])]
    model = estimator.fit(X, y)
    profile = profile_of(X, model.predict(X))
    direct = choose(model, profile, proba=True).predictor
    assert isinstance(direct, LinearPredictor)
    rows = np.vstack([X, profile_rows(profile, seed=5)])
    assert np.array_equal(direct.predict(rows), model.predict(rows))
    assert np.allclose(direct.predict_proba(rows), model.predict_proba(rows), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimator", [LinearRegression(), make_pipeline(StandardScaler(), Ridge())])
def test_linear_regressors_answer_as_scikit_learn(estimator: Any) -> None:
    model = estimator.fit(X[:, 1:], X[:, 0])
    x = X[:, 1:]
    profile = Profile(
        features=tuple(numeric_profile(n, x[:, j]) for j, n in enumerate(NAMES[1:])),
        output=numeric_profile("predict", model.predict(x)),
    )
    direct = choose(model, profile, proba=False).predictor
    assert isinstance(direct, LinearPredictor)
    assert np.allclose(direct.predict(x), model.predict(x), rtol=1e-12)


@pytest.mark.parametrize(
    "estimator",
    [
        SVC(),
        OwnLogistic(max_iter=5000),
        make_pipeline(MinMaxScaler(), LogisticRegression()),
    ],
    ids=["svc", "subclass", "other-scaler"],
)
def test_anything_else_keeps_scikit_learn(estimator: Any) -> None:
    model = estimator.fit(X, Y)
    choice = choose(model, profile_of(X, model.predict(X)), proba=False)
    assert choice.predictor is None
    assert not choice.disagreed
    assert choice.reason.startswith("no direct predictor")


def test_a_disagreeing_predictor_is_not_used(caplog: pytest.LogCaptureFixture) -> None:
    model = LogisticRegression(max_iter=5000).fit(X, Y)
    profile = profile_of(X, model.predict(X))
    assert choose(model, profile, proba=True).predictor is not None
    original = model.predict
    model.predict = lambda rows: 1 - original(rows)  # scikit-learn now answers otherwise
    with caplog.at_level("WARNING", logger="modelops.serving.direct"):
        choice = choose(model, profile, proba=False)
    assert choice.predictor is None
    assert choice.disagreed
    assert "its predictions differ from scikit-learn's" in caplog.text

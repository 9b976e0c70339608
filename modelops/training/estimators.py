"""Which estimators the trainer builds, and with which parameters.

``--estimator`` is an import path, but only those listed here are imported: a DriftPolicy
author must not be able to make the trainer import (and so run) an arbitrary module. The
list holds scikit-learn's usual classifiers and regressors whose fitted state the serving
pods' skops allow-list admits (modelops.artifact.trust), so what is trained can be served.

``--params`` are checked against the estimator's ``get_params()``: an unknown one is
refused by name (scikit-learn would only say "unexpected keyword"), and so is a value
JSON cannot hold meaningfully (estimator objects). Values of known parameters are checked
by scikit-learn itself when fitting.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from modelops.training.errors import TrainingError

CLASSIFIERS = (
    "sklearn.ensemble.AdaBoostClassifier",
    "sklearn.ensemble.ExtraTreesClassifier",
    "sklearn.ensemble.GradientBoostingClassifier",
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.ensemble.RandomForestClassifier",
    "sklearn.linear_model.LogisticRegression",
    "sklearn.linear_model.RidgeClassifier",
    "sklearn.linear_model.SGDClassifier",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.neighbors.KNeighborsClassifier",
    "sklearn.svm.LinearSVC",
    "sklearn.svm.SVC",
    "sklearn.tree.DecisionTreeClassifier",
)
REGRESSORS = (
    "sklearn.ensemble.ExtraTreesRegressor",
    "sklearn.ensemble.GradientBoostingRegressor",
    "sklearn.ensemble.HistGradientBoostingRegressor",
    "sklearn.ensemble.RandomForestRegressor",
    "sklearn.linear_model.ElasticNet",
    "sklearn.linear_model.Lasso",
    "sklearn.linear_model.LinearRegression",
    "sklearn.linear_model.Ridge",
    "sklearn.linear_model.SGDRegressor",
    "sklearn.neighbors.KNeighborsRegressor",
    "sklearn.svm.SVR",
    "sklearn.tree.DecisionTreeRegressor",
)
ALLOWED_ESTIMATORS = frozenset(CLASSIFIERS + REGRESSORS)
DEFAULT_ESTIMATOR = "sklearn.ensemble.HistGradientBoostingClassifier"


def estimator_class(path: str) -> type[Any]:
    """The class at an allowed import path; InvalidEstimator naming the allowed ones."""
    if path not in ALLOWED_ESTIMATORS:
        near = difflib.get_close_matches(path, sorted(ALLOWED_ESTIMATORS), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise TrainingError(
            "InvalidEstimator",
            f"estimator {path!r} is not on the trainer's allow-list{hint} "
            f"(allowed: {', '.join(sorted(ALLOWED_ESTIMATORS))})",
        )
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def make_estimator(path: str, params: Mapping[str, Any], seed: int) -> Any:
    """An unfitted estimator with ``params``; ``random_state`` is ``seed`` unless given,
    so the same inputs fit the same model."""
    cls = estimator_class(path)
    accepted = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        hints = []
        for name in unknown:
            near = difflib.get_close_matches(name, sorted(accepted), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        raise TrainingError(
            "UnknownParam",
            f"{cls.__name__} has no parameter {', '.join(hints)}; its parameters: {', '.join(sorted(accepted))}",
        )
    for name, value in params.items():
        if not _json_value(value):
            raise TrainingError("InvalidParams", f"parameter {name!r}: {value!r} is not a JSON value")
    effective = dict(params)
    if "random_state" in accepted and "random_state" not in effective:
        effective["random_state"] = seed
    try:
        return cls(**effective)
    except (TypeError, ValueError) as exc:
        raise TrainingError("InvalidParams", f"{cls.__name__}({effective}): {exc}") from None


def _json_value(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False

"""The shared evaluation module: each figure equals scikit-learn's, binary and multiclass
explicitly, and what cannot be computed fails by name."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier

from modelops.evaluation import (
    LOWER_IS_BETTER,
    METRICS,
    EvaluationError,
    MetricRequest,
    Predictions,
    default_metrics,
    evaluate,
    higher_is_better,
    metric_function,
    predict,
    score,
)


def _data(n_classes: int, n: int = 300, seed: int = 0) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    x = rng.normal(size=(n, 3)) + y[:, None] * 0.8
    return x, y


@pytest.fixture(scope="module")
def binary() -> tuple[Predictions, Any, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    x, y = _data(2)
    model = LogisticRegression().fit(x[:200], y[:200])
    return predict(model, x[200:], y[200:]), model, x[200:], y[200:]


@pytest.fixture(scope="module")
def multiclass() -> tuple[Predictions, Any, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    x, y = _data(3)
    model = LogisticRegression().fit(x[:200], y[:200])
    return predict(model, x[200:], y[200:]), model, x[200:], y[200:]


def test_binary_figures_are_scikit_learns_with_the_second_class_positive(binary: Any) -> None:
    preds, model, x, y = binary
    pred = model.predict(x)
    proba = model.predict_proba(x)
    assert score(preds, "accuracy") == skm.accuracy_score(y, pred)
    assert score(preds, "balanced_accuracy") == skm.balanced_accuracy_score(y, pred)
    assert score(preds, "precision") == skm.precision_score(y, pred)
    assert score(preds, "recall") == skm.recall_score(y, pred)
    assert score(preds, "f1") == skm.f1_score(y, pred)
    assert score(preds, "roc_auc") == skm.roc_auc_score(y, proba[:, 1])
    assert score(preds, "log_loss") == skm.log_loss(y, proba)
    # per class: the other class as positive, named as a CRD names it ("0")
    assert score(preds, "recall", "0") == skm.recall_score(y, pred, pos_label=0)
    assert score(preds, "roc_auc", "0") == pytest.approx(skm.roc_auc_score(y == 0, proba[:, 0]))


def test_multiclass_figures_are_macro_and_one_vs_rest(multiclass: Any) -> None:
    preds, model, x, y = multiclass
    pred = model.predict(x)
    proba = model.predict_proba(x)
    assert score(preds, "f1") == skm.f1_score(y, pred, average="macro")
    assert score(preds, "precision") == skm.precision_score(y, pred, average="macro")
    assert score(preds, "roc_auc") == skm.roc_auc_score(y, proba, multi_class="ovr")
    assert score(preds, "log_loss") == skm.log_loss(y, proba)
    assert score(preds, "recall", 2) == skm.recall_score(y, pred, labels=[2], average="macro")
    assert score(preds, "roc_auc", "1") == skm.roc_auc_score(y == 1, proba[:, 1])


def test_regression_figures() -> None:
    x, _ = _data(2)
    y = x @ np.array([1.0, -2.0, 0.5]) + np.random.default_rng(1).normal(size=len(x))
    model = LinearRegression().fit(x[:200], y[:200])
    preds = predict(model, x[200:], y[200:])
    pred = model.predict(x[200:])
    assert score(preds, "r2") == skm.r2_score(y[200:], pred)
    assert score(preds, "MAE") == skm.mean_absolute_error(y[200:], pred)
    assert score(preds, "rmse") == pytest.approx(math.sqrt(skm.mean_squared_error(y[200:], pred)))
    assert [r.name for r in evaluate(preds, default_metrics(preds))] == ["r2", "mae", "rmse"]


def test_directions() -> None:
    assert frozenset({"log_loss", "mae", "rmse"}) == LOWER_IS_BETTER
    assert higher_is_better("roc_auc")
    assert not higher_is_better("rmse")
    assert set(METRICS) == {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                            "r2", "mae", "rmse"}


def test_roc_auc_of_a_model_without_predict_proba_is_a_named_error() -> None:
    x, y = _data(2)
    preds = predict(RidgeClassifier().fit(x, y), x, y)
    with pytest.raises(EvaluationError, match="has no predict_proba") as info:
        score(preds, "roc_auc")
    assert info.value.reason == "NoProbabilities"
    assert score(preds, "accuracy") > 0.5  # the label metrics still work
    assert [r.name for r in evaluate(preds, default_metrics(preds), skip_undefined=True)] == [
        "accuracy", "balanced_accuracy", "precision", "recall", "f1"]


def test_a_holdout_with_one_class_is_a_named_error_for_roc_auc(binary: Any) -> None:
    _, model, x, y = binary
    ones = y == 1
    preds = predict(model, x[ones], y[ones])
    with pytest.raises(EvaluationError) as info:
        score(preds, "roc_auc")
    assert info.value.reason == "SingleClassHoldout"
    with pytest.raises(EvaluationError) as absent:
        score(preds, "recall", "0")
    assert absent.value.reason == "ClassAbsent"
    assert score(preds, "log_loss") > 0  # defined: the model's classes are given


def test_one_vs_rest_auc_needs_every_class(multiclass: Any) -> None:
    _, model, x, y = multiclass
    keep = y != 2
    with pytest.raises(EvaluationError, match=r"absent: \[2\]") as info:
        score(predict(model, x[keep], y[keep]), "roc_auc")
    assert info.value.reason == "ClassAbsent"


@pytest.mark.parametrize(
    ("name", "class_label", "reason"),
    [
        ("auc", None, "UnknownMetric"),
        ("r2", None, "WrongTask"),
        ("accuracy", "1", "NotPerClass"),
        ("log_loss", "1", "NotPerClass"),
        ("recall", "7", "UnknownClass"),
    ],
)
def test_requests_that_make_no_sense_are_refused_by_name(binary: Any, name: str, class_label: Any,
                                                         reason: str) -> None:
    preds = binary[0]
    with pytest.raises(EvaluationError) as info:
        score(preds, name, class_label)
    assert info.value.reason == reason
    assert str(info.value).startswith(reason)


def test_holdout_labels_read_as_floats_are_the_models_int_classes(binary: Any) -> None:
    _, model, x, y = binary
    as_floats = predict(model, x, y.astype(np.float64))
    as_ints = predict(model, x, y)
    assert as_floats.y_true.dtype.kind == "i"
    assert score(as_floats, "roc_auc") == score(as_ints, "roc_auc")
    assert score(as_floats, "recall", 1.0) == score(as_ints, "recall", "1")


def test_a_label_the_model_never_saw_is_wrong_not_a_crash(binary: Any) -> None:
    _, model, x, y = binary
    y3 = y.copy()
    y3[:5] = 2
    preds = predict(model, x, y3)
    assert preds.unknown_labels == ("2",)
    assert score(preds, "accuracy") == skm.accuracy_score(y3, model.predict(x))
    with pytest.raises(EvaluationError) as info:
        score(preds, "log_loss")
    assert info.value.reason == "UnknownLabel"


def test_empty_holdout_and_constant_regression_target() -> None:
    x, y = _data(2)
    with pytest.raises(EvaluationError) as empty:
        predict(LogisticRegression().fit(x, y), x[:0], y[:0])
    assert empty.value.reason == "EmptyHoldout"
    flat = np.ones(len(x))
    preds = predict(LinearRegression().fit(x, flat), x, flat)
    with pytest.raises(EvaluationError, match=r"every holdout target is 1\.0") as info:
        score(preds, "r2")
    assert info.value.reason == "MetricUndefined"
    assert score(preds, "mae") == pytest.approx(0.0, abs=1e-9)


def test_results_carry_class_and_direction(binary: Any) -> None:
    results = evaluate(binary[0], [MetricRequest("recall", "1"), MetricRequest("log_loss")])
    assert [(r.key, r.higher_is_better) for r in results] == [("recall[1]", True), ("log_loss", False)]
    assert results[0].to_json() == {"metric": "recall", "class": "1", "value": results[0].value}


def test_metric_functions_plug_into_fairlearns_metric_frame(binary: Any) -> None:
    """The hook fairness builds on: a MetricFrame over the same functions gives, per group,
    the figure ``score`` gives on that group's rows."""
    from fairlearn.metrics import MetricFrame

    preds, model, x, y = binary
    group = np.where(x[:, 0] > 0, "a", "b")
    recall, needs = metric_function("recall", preds.task, preds.classes)
    assert needs == "labels"
    frame = MetricFrame(metrics=recall, y_true=preds.y_true, y_pred=preds.y_pred, sensitive_features=group)
    for g in ("a", "b"):
        rows = group == g
        assert frame.by_group[g] == score(predict(model, x[rows], y[rows]), "recall")

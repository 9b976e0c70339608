"""Fairness figures are fairlearn's own on the same data; what cannot be judged is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score, roc_auc_score

from modelops.api.modelversion import Fairness, Validation
from modelops.artifact.loading import load_artifact
from modelops.evaluation import Predictions, predict
from modelops.validation.errors import CannotValidateError
from modelops.validation.fairness import fairness_figures
from modelops.validation.holdout import sensitive_groups
from modelops.validation.run import ArtifactSource, Request, validate

from .conftest import SENSITIVE, TARGET, Built, applicants


@pytest.mark.parametrize("model", ["fair", "biased"])
def test_the_figures_equal_fairlearns_computed_directly(
    model: str, request: pytest.FixtureRequest, holdout_csv: Path, holdout_frame: pd.DataFrame
) -> None:
    built: Built = request.getfixturevalue(model)
    spec = {"sensitiveFeature": SENSITIVE, "maxDemographicParityDifference": 0.1,
            "maxEqualizedOddsDifference": 0.1, "minGroupMetric": {"name": "roc_auc", "min": 0.5}}
    outcome = validate(Request(ArtifactSource(built.uri, built.sha256),
                               Validation.model_validate({"holdoutUri": holdout_csv.as_uri(), "fairness": spec})))
    figures = {(f.metric, f.group): f.value for f in outcome.figures}

    # The same data, straight through scikit-learn and fairlearn.
    loaded = load_artifact(built.path, built.sha256)
    x = holdout_frame[list(loaded.metadata.feature_names)]
    y = holdout_frame[TARGET].to_numpy()
    pred = loaded.model.predict(x)
    proba = loaded.model.predict_proba(x)[:, 1]
    sensitive = holdout_frame[SENSITIVE]
    assert figures["demographic_parity_difference", SENSITIVE] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=sensitive), abs=1e-12)
    assert figures["equalized_odds_difference", SENSITIVE] == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=sensitive), abs=1e-12)
    auc = MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=proba, sensitive_features=sensitive).by_group
    for group, value in auc.items():
        assert figures["roc_auc", f"{SENSITIVE}={group}"] == pytest.approx(value, abs=1e-12)


def _predictions(labels: list[str], n: int = 400, seed: int = 3) -> tuple[Predictions, pd.DataFrame]:
    """A classifier with string classes (as many as ``labels``, by merit), and its holdout."""
    frame = applicants(n, seed)
    merit = (frame["x1"] + 0.5 * frame["x2"]).rank(pct=True).to_numpy()
    frame["label"] = np.asarray(labels)[np.minimum((merit * len(labels)).astype(int), len(labels) - 1)]
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
    return predict(model, frame[["x1", "x2"]], frame["label"]), frame


def test_the_positive_class_is_the_second_by_default_or_the_one_named() -> None:
    preds, frame = _predictions(["denied", "granted"])
    groups = sensitive_groups(frame, SENSITIVE, "mem")
    (default,) = fairness_figures(Fairness(sensitive_feature=SENSITIVE, max_demographic_parity_difference=1.0),
                                  preds, groups)
    granted = (frame["label"] == "granted").astype(int)
    predicted = (np.asarray(preds.y_pred) == "granted").astype(int)
    assert default.detail["positiveClass"] == "granted"
    assert default.value == pytest.approx(
        demographic_parity_difference(granted, predicted, sensitive_features=frame[SENSITIVE]))
    (named,) = fairness_figures(Fairness(sensitive_feature=SENSITIVE, max_demographic_parity_difference=1.0,
                                         positive_class="denied"), preds, groups)
    assert named.detail["positiveClass"] == "denied"
    assert named.value == pytest.approx(default.value)  # one group's selection is the other's refusal
    rates = named.detail["selectionRate"]
    assert sum(rates.values()) == pytest.approx(2 - sum(default.detail["selectionRate"].values()))


def test_a_multiclass_model_needs_a_named_positive_class() -> None:
    preds, frame = _predictions(["low", "mid", "high"])
    groups = sensitive_groups(frame, SENSITIVE, "mem")
    with pytest.raises(CannotValidateError) as caught:
        fairness_figures(Fairness(sensitive_feature=SENSITIVE, max_equalized_odds_difference=0.1), preds, groups)
    assert caught.value.problem == "InvalidSpec"
    assert "positiveClass" in caught.value.message
    (figure,) = fairness_figures(
        Fairness(sensitive_feature=SENSITIVE, max_demographic_parity_difference=1.0, positive_class="mid"),
        preds, groups)
    assert figure.detail["positiveClass"] == "mid"


def test_equalized_odds_needs_both_outcomes_in_every_group() -> None:
    preds, frame = _predictions(["no", "yes"])
    groups = sensitive_groups(frame, SENSITIVE, "mem")
    # Every row of group B is a "no": its true-positive rate does not exist.
    only_no = np.where(groups == "B", "no", np.asarray(preds.y_true))
    stripped = Predictions(task="classification", y_true=only_no, y_pred=preds.y_pred,
                           classes=preds.classes, probabilities=preds.probabilities)
    with pytest.raises(CannotValidateError) as caught:
        fairness_figures(Fairness(sensitive_feature=SENSITIVE, max_equalized_odds_difference=0.5), stripped, groups)
    assert caught.value.problem == "HoldoutTooSmall"
    assert "B: 0 of" in caught.value.message


def test_a_missing_sensitive_value_is_a_group_of_its_own() -> None:
    frame = pd.DataFrame({SENSITIVE: ["A", None, "B", 1.0, float("nan")]})
    assert sensitive_groups(frame, SENSITIVE, "mem").tolist() == ["A", "(missing)", "B", "1", "(missing)"]


def test_group_recall_per_group_equals_scikit_learns() -> None:
    preds, frame = _predictions(["no", "yes"])
    groups = sensitive_groups(frame, SENSITIVE, "mem")
    spec = Fairness.model_validate({"sensitiveFeature": SENSITIVE, "minGroupMetric": {"name": "recall", "min": 0.9}})
    figures = fairness_figures(spec, preds, groups)
    for f in figures:
        group = (f.group or "").split("=", 1)[1]
        rows = frame[SENSITIVE] == group
        expected = recall_score(frame["label"][rows], np.asarray(preds.y_pred)[rows.to_numpy()],
                                pos_label="yes")
        assert f.value == pytest.approx(expected)
        assert f.detail["rows"] == int(rows.sum())


def test_a_group_metric_undefined_in_one_group_is_too_small_to_judge() -> None:
    preds, frame = _predictions(["no", "yes"])
    groups = sensitive_groups(frame, SENSITIVE, "mem")
    only_no = np.where(groups == "B", "no", np.asarray(preds.y_true))
    stripped = Predictions(task="classification", y_true=only_no, y_pred=preds.y_pred, classes=preds.classes,
                           probabilities=preds.probabilities)
    spec = Fairness.model_validate({"sensitiveFeature": SENSITIVE, "minGroupMetric": {"name": "roc_auc", "min": 0.7}})
    with pytest.raises(CannotValidateError) as caught:
        fairness_figures(spec, stripped, groups)
    assert caught.value.problem == "HoldoutTooSmall"
    assert "SingleClassHoldout" in caught.value.message
    assert f"per group of {SENSITIVE!r} (undefined in group B)" in caught.value.message

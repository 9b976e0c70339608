"""build_artifact: metadata, offline metrics and the reference profile of real small models."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelops.artifact.build import build_artifact
from modelops.artifact.errors import ArtifactError
from modelops.artifact.loading import load_artifact
from modelops.drift.profile import Profile

from .helpers import Built, Dataset


def _metadata(path: Path) -> dict[str, object]:
    raw = orjson.loads((path / "metadata.json").read_bytes())
    assert isinstance(raw, dict)
    return raw


def test_metadata_describes_the_model_in_camel_case(pristine: Built, breast_cancer: Dataset) -> None:
    meta = _metadata(pristine.path)
    assert meta["formatVersion"] == 1
    assert meta["format"] == "skops"
    assert meta["modelFile"] == "model.skops"
    assert meta["task"] == "classification"
    assert meta["target"] == "malignant"
    assert meta["classes"] == [0, 1]
    assert meta["features"] == [{"name": n, "type": "numeric"} for n in breast_cancer.features]
    assert meta["lineage"] == {"parent": "bc-v1", "job": "retrain-7"}
    versions = meta["frameworkVersions"]
    assert isinstance(versions, dict)
    assert set(versions) == {"python", "scikit-learn", "numpy", "skops", "modelops"}
    assert isinstance(meta["createdAt"], str)
    assert meta["createdAt"].endswith("Z")


def test_offline_metrics_are_those_of_the_reference_data(pristine: Built, breast_cancer: Dataset) -> None:
    metrics = _metadata(pristine.path)["offlineMetrics"]
    assert isinstance(metrics, dict)
    model, x, y = breast_cancer.model, breast_cancer.frame, breast_cancer.target
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, model.predict(x)))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, model.predict_proba(x)[:, 1]))
    assert set(metrics) == {"accuracy", "roc_auc", "f1"}


def test_profile_bins_every_feature_and_the_predicted_classes(pristine: Built, breast_cancer: Dataset) -> None:
    profile = Profile.from_bytes((pristine.path / "profile.json").read_bytes())
    assert profile.feature_names == tuple(breast_cancer.features)
    n = len(breast_cancer.frame)
    assert all(sum(f.reference) == n for f in profile.features)
    assert all(f.kind == "numeric" and len(f.edges) == 9 for f in profile.features)
    output = profile.output
    assert (output.name, output.kind, output.categories) == ("predict", "categorical", ("0", "1"))
    predicted = breast_cancer.model.predict(breast_cancer.frame)
    assert output.reference == (int((predicted == 0).sum()), int((predicted == 1).sum()), 0)


def test_a_multiclass_forest_records_macro_metrics_and_every_class(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    sha = build_artifact(model, x, ["sl", "sw", "pl", "pw"], y, tmp_path / "iris")
    loaded = load_artifact(tmp_path / "iris", sha)
    assert loaded.metadata.classes == (0, 1, 2)
    assert loaded.metadata.offline_metrics["roc_auc"] == pytest.approx(
        roc_auc_score(y, model.predict_proba(x), multi_class="ovr", average="macro")
    )
    assert loaded.profile.output.categories == ("0", "1", "2")
    assert sum(loaded.profile.output.reference) == len(y)
    np.testing.assert_array_equal(loaded.model.predict(x), model.predict(x))


def test_a_regressor_records_error_metrics_and_binned_predictions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=200)
    model = LinearRegression().fit(x, y)
    sha = build_artifact(model, x, ["a", "b", "c"], y, tmp_path / "reg", n_bins=5)
    loaded = load_artifact(tmp_path / "reg", sha)
    assert loaded.metadata.task == "regression"
    assert loaded.metadata.classes is None
    assert set(loaded.metadata.offline_metrics) == {"r2", "mae", "rmse"}
    assert loaded.metadata.offline_metrics["mae"] == pytest.approx(mean_absolute_error(y, model.predict(x)))
    assert loaded.profile.output.kind == "numeric"
    assert len(loaded.profile.output.edges) == 4
    assert sum(loaded.profile.output.reference) == 200


def test_string_columns_are_profiled_as_categories(tmp_path: Path) -> None:
    frame = pd.DataFrame({"plan": ["basic", "pro", "max", "pro"] * 25, "tenure": np.arange(100.0)})
    y = np.array(["stay", "churn"] * 50)
    model = make_pipeline(
        ColumnTransformer([("plan", OneHotEncoder(), ["plan"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    sha = build_artifact(model, frame, ["plan", "tenure"], y, tmp_path / "cat")
    loaded = load_artifact(tmp_path / "cat", sha)
    assert [f.type for f in loaded.metadata.features] == ["categorical", "numeric"]
    assert loaded.profile.feature("plan").categories == ("pro", "basic", "max")
    assert loaded.metadata.classes == ("churn", "stay")


def test_feature_types_given_override_the_inferred_ones(tmp_path: Path) -> None:
    x = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 1.0], [0.0, 3.0]] * 10)
    y = np.array([0, 1] * 20)
    model = LogisticRegression().fit(x, y)
    sha = build_artifact(model, x, ["region", "age"], y, tmp_path / "a", feature_types={"region": "categorical"})
    loaded = load_artifact(tmp_path / "a", sha)
    assert loaded.profile.feature("region").kind == "categorical"
    assert loaded.profile.feature("age").kind == "numeric"


def test_the_output_directory_must_be_absent_or_empty(tmp_path: Path, breast_cancer: Dataset) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "leftover.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build_artifact(breast_cancer.model, breast_cancer.frame, breast_cancer.features, breast_cancer.target, out)
    assert [p.name for p in tmp_path.iterdir()] == ["busy"]


def test_feature_names_must_match_what_the_model_was_fitted_on(tmp_path: Path, breast_cancer: Dataset) -> None:
    names = list(reversed(breast_cancer.features))
    with pytest.raises(ValueError, match="fitted on features"):
        build_artifact(breast_cancer.model, breast_cancer.frame, names, breast_cancer.target, tmp_path / "x")


class HandMade(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A user's own class: skops cannot rebuild it without importing this module."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> HandMade:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.classes_[0])


def test_a_model_the_serving_pods_would_refuse_is_refused_at_build_time(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    with pytest.raises(ArtifactError, match="HandMade") as err:
        build_artifact(HandMade().fit(x, y), x, ["a", "b", "c", "d"], y, tmp_path / "x")
    assert err.value.reason == "UntrustedType"
    assert not (tmp_path / "x").exists()


def test_rebuilding_the_same_model_gives_the_same_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breast_cancer: Dataset
) -> None:
    # A deep copy holds the same values in new objects: skops would name its arrays differently.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    digests = [
        build_artifact(model, breast_cancer.frame, breast_cancer.features, breast_cancer.target, tmp_path / name)
        for name, model in (("a", breast_cancer.model), ("b", copy.deepcopy(breast_cancer.model)))
    ]
    assert digests[0] == digests[1]


def test_source_date_epoch_fixes_created_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breast_cancer: Dataset
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_artifact(
        breast_cancer.model, breast_cancer.frame, breast_cancer.features, breast_cancer.target, tmp_path / "a"
    )
    assert _metadata(tmp_path / "a")["createdAt"] == "2023-11-14T22:13:20Z"

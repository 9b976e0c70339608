"""Small real models and the artifacts built from them, shared by the artifact tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelops.artifact.build import build_artifact

from .helpers import Built, Dataset


@pytest.fixture(scope="session")
def breast_cancer() -> Dataset:
    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(data.data, data.target)
    return Dataset(model=model, frame=data.data, target=data.target.to_numpy())


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory, breast_cancer: Dataset) -> Built:
    out = tmp_path_factory.mktemp("pristine") / "artifact"
    sha = build_artifact(
        breast_cancer.model,
        breast_cancer.frame,
        breast_cancer.features,
        breast_cancer.target,
        out,
        target_name="malignant",
        lineage={"parent": "bc-v1", "job": "retrain-7"},
    )
    return Built(out, sha)


@pytest.fixture
def artifact(tmp_path: Path, pristine: Built) -> Built:
    """A private copy of the breast-cancer artifact, free to tamper with."""
    copy = tmp_path / "artifact"
    shutil.copytree(pristine.path, copy)
    return Built(copy, pristine.sha256)

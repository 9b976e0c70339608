"""Synthetic holdouts with a sensitive feature, and real artifacts built from models that
treat its groups fairly or not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelops.artifact.build import build_artifact

SENSITIVE = "group"
TARGET = "approved"


@dataclass(frozen=True)
class Built:
    path: Path
    sha256: str

    @property
    def uri(self) -> str:
        return self.path.as_uri()


def applicants(n: int, seed: int, *, biased_labels: bool = False) -> pd.DataFrame:
    """Two groups A and B with the same distribution of merit (x1, x2) and outcome. With
    ``biased_labels`` the training labels of group B are mostly turned down, as in a
    history of biased decisions: a model fitted on them learns to refuse B."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "A", "B")
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    y = (x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > 0).astype(int)
    if biased_labels:
        y = np.where((group == "B") & (rng.random(n) < 0.8), 0, y)
    return pd.DataFrame({"x1": x1, "x2": x2, "is_b": (group == "B").astype(float), SENSITIVE: group, TARGET: y})


def _build(model: object, frame: pd.DataFrame, features: list[str], out: Path, target: str = TARGET) -> Built:
    sha = build_artifact(model, frame, features, frame[target].to_numpy(), out, target_name=target)
    return Built(out, sha)


@pytest.fixture(scope="session")
def holdout_frame() -> pd.DataFrame:
    return applicants(800, seed=1)


@pytest.fixture(scope="session")
def holdout_csv(tmp_path_factory: pytest.TempPathFactory, holdout_frame: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("holdout") / "holdout.csv"
    holdout_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def fair(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Fitted on unbiased labels, without the group among its inputs."""
    train = applicants(1000, seed=0)
    model = LogisticRegression().fit(train[["x1", "x2"]], train[TARGET])
    return _build(model, train, ["x1", "x2"], tmp_path_factory.mktemp("fair") / "artifact")


@pytest.fixture(scope="session")
def biased(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Fitted on labels biased against group B, with the group among its inputs."""
    train = applicants(1000, seed=0, biased_labels=True)
    features = ["x1", "x2", "is_b"]
    model = LogisticRegression().fit(train[features], train[TARGET])
    return _build(model, train, features, tmp_path_factory.mktemp("biased") / "artifact")


@pytest.fixture(scope="session")
def weak(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Sees only the weaker feature: a worse model than ``fair`` on every metric."""
    train = applicants(1000, seed=0)
    model = LogisticRegression().fit(train[["x2"]], train[TARGET])
    return _build(model, train, ["x2"], tmp_path_factory.mktemp("weak") / "artifact")


@pytest.fixture(scope="session")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> Built:
    train = applicants(600, seed=0)
    train["score"] = 2 * train["x1"] - train["x2"] + np.random.default_rng(5).normal(scale=0.3, size=len(train))
    model = LinearRegression().fit(train[["x1", "x2"]], train["score"])
    return _build(model, train, ["x1", "x2"], tmp_path_factory.mktemp("regressor") / "artifact", target="score")

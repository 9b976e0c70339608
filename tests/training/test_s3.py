"""The trainer against a real S3 API on 127.0.0.1 (moto's server mode, not a mock of fsspec):
the dataset is read from s3://, the artifact written to s3://, then fetched back from s3://
and verified, and a second run loads that artifact from s3:// as its champion."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops.artifact.fetching import fetch
from modelops.artifact.loading import load_artifact
from modelops.datasets import read_dataset
from modelops.training.train import TrainOptions, train
from tests.s3_server import s3_endpoint


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with s3_endpoint("data", "models") as fs:
        yield fs


def _frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return pd.DataFrame({"tenure": x[:, 0], "spend": x[:, 1], "churned": y})


def test_dataset_from_s3_and_artifact_to_s3_round_trip(s3: Any, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _frame().to_parquet(buffer, index=False)
    parquet = buffer.getvalue()
    s3.pipe_file("data/churn/2026-11.parquet", parquet)

    dataset = read_dataset("s3://data/churn/2026-11.parquet")
    assert dataset.sha256 == hashlib.sha256(parquet).hexdigest()
    pd.testing.assert_frame_equal(dataset.frame, _frame())

    options = TrainOptions(
        dataset_uri="s3://data/churn/2026-11.parquet", target="churned", name="churn-v1",
        output_uri="s3://models/churn", estimator="sklearn.linear_model.LogisticRegression",
        drift_evaluation="2026-11-27T10:05:00Z",
    )
    first = train(options)
    assert first.result == "Succeeded"
    assert first.artifact_uri == "s3://models/churn/churn-v1/"
    assert first.artifact_sha256 is not None
    assert sorted(s3.ls("models/churn/churn-v1")) == [
        f"models/churn/churn-v1/{f}" for f in ("manifest.json", "metadata.json", "model.skops", "profile.json")]

    # Fetched back from S3 through the serving init container's path, every file verified.
    fetch(first.artifact_uri, first.artifact_sha256, tmp_path / "fetched")
    loaded = load_artifact(tmp_path / "fetched", first.artifact_sha256)
    lineage = loaded.metadata.lineage_record()
    assert lineage is not None
    assert (lineage.dataset_uri, lineage.dataset_sha256) == ("s3://data/churn/2026-11.parquet", dataset.sha256)

    # The champion comes from S3 as well; the same inputs publish the same bytes again.
    second = train(TrainOptions(
        dataset_uri="s3://data/churn/2026-11.parquet", target="churned", name="churn-v2",
        output_uri="s3://models/churn/", estimator="sklearn.tree.DecisionTreeClassifier", params={"max_depth": 1},
        champion_uri=first.artifact_uri, champion_sha256=first.artifact_sha256, parent="churn-v1",
        gate_metric="accuracy", drift_evaluation="2026-11-27T10:05:00Z",
    ))
    assert second.gate is not None
    assert second.gate.champion == first.challenger_metrics["accuracy"]
    assert second.result == ("Succeeded" if second.gate.passed else "GateFailed")
    assert train(options).artifact_sha256 == first.artifact_sha256

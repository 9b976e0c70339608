"""The trainer against a real S3 API on 127.0.0.1 (moto's server mode, not a mock of fsspec):
the dataset is read from s3://, the artifact written to s3://, then fetched back from s3://
and verified, and a second run loads that artifact from s3:// as its champion."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

try:
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover - moto[server] is in the dev extra
    pytest.skip("moto[server] is not installed (pip install -e '.[dev]')", allow_module_level=True)

from modelops.artifact.fetching import fetch
from modelops.artifact.loading import load_artifact
from modelops.datasets import read_dataset
from modelops.training.train import TrainOptions, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """An S3 endpoint on 127.0.0.1 with buckets ``data`` and ``models``; s3fs reaches it
    through the standard ``AWS_ENDPOINT_URL``, as a Job's pod would be configured."""
    import fsspec

    s3fs = fsspec.get_filesystem_class("s3")  # s3fs, through fsspec as the trainer reaches it
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        s3fs.clear_instance_cache()  # none configured for another endpoint
        try:
            fs = s3fs()
            fs.mkdir("data")
            fs.mkdir("models")
            yield fs
        finally:
            s3fs.clear_instance_cache()
            server.stop()


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

"""The optional MLflow link: `modelops package --mlflow-run` and the trainer (MLFLOW_TRACKING_URI)
record params, metrics and the digest in the run and the run in lineage, which the operator's
verification copies into status (what `modelops history` shows). Real MLflow with a local file
store, no server; without MLflow installed both fail naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from modelops.artifact.metadata import Metadata
from modelops.cli import main
from modelops.operator.modelversion.reconcile import Verify
from modelops.operator.modelversion.verify import inspect
from modelops.training.errors import TrainingError
from modelops.training.train import TrainOptions, train


def _data(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    csv = tmp_path / "data.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "churned": y}).to_csv(csv, index=False)
    model = tmp_path / "fitted.skops"
    skops.io.dump(LogisticRegression(C=0.5).fit(pd.DataFrame(x, columns=["a", "b"]), y), model)
    return csv, model


def _options(tmp_path: Path, csv: Path) -> TrainOptions:
    return TrainOptions(dataset_uri=str(csv), target="churned", name="churn-v2",
                        output_uri=(tmp_path / "models").as_uri(), estimator="sklearn.linear_model.LogisticRegression",
                        params={"C": 0.25}, parent="churn-v1")


def _package(csv: Path, model: Path, out: Path, *extra: str) -> int:
    return main(["package", "--model", str(model), "--reference", str(csv), "--target", "churned", "--out", str(out),
                 *extra])


@pytest.fixture
def without_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an install without the extra, whether or not this one has MLflow."""
    for name in [n for n in sys.modules if n == "mlflow" or n.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)


@pytest.mark.usefixtures("without_mlflow")
def test_package_without_the_extra_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, model = _data(tmp_path)
    assert _package(csv, model, tmp_path / "a", "--mlflow-run", "0123") == 1
    err = capsys.readouterr().err
    assert "MlflowMissing" in err
    assert "pip install 'modelops[mlflow]'" in err
    assert not (tmp_path / "a").exists()  # refused before anything was built


@pytest.mark.usefixtures("without_mlflow")
def test_the_trainer_without_the_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv, _ = _data(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    with pytest.raises(TrainingError, match=r"modelops\[mlflow\]") as err:
        train(_options(tmp_path, csv))
    assert err.value.reason == "MlflowMissing"


def test_without_a_tracking_uri_the_trainer_never_touches_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 without_mlflow: None) -> None:
    csv, _ = _data(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = train(_options(tmp_path, csv))
    metadata = Metadata.from_bytes((tmp_path / "models" / "churn-v2" / "metadata.json").read_bytes())
    assert result.result == "Succeeded"
    assert "experimentRun" not in (metadata.lineage or {})


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local MLflow file store (MLflow 3 asks for this opt-in to use one)."""
    pytest.importorskip("mlflow", reason="the MLflow extra is not installed: pip install 'modelops[mlflow]'")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    return uri, MlflowClient(tracking_uri=uri)


def test_package_records_in_an_existing_run_and_the_run_in_lineage(tmp_path: Path, store: Any) -> None:
    uri, client = store
    run_id = client.create_run(client.create_experiment("churn")).info.run_id
    csv, model = _data(tmp_path)
    assert _package(csv, model, tmp_path / "a", "--mlflow-run", run_id, "--mlflow-tracking-uri", uri) == 0
    metadata = Metadata.from_bytes((tmp_path / "a" / "metadata.json").read_bytes())
    sha = (tmp_path / "a" / "manifest.json").read_bytes()
    import hashlib

    digest = hashlib.sha256(sha).hexdigest()
    run = client.get_run(run_id)
    assert run.data.tags["modelops.artifact.sha256"] == digest
    assert run.data.params["modelops.estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.params["modelops.params.C"] == "0.5"
    assert run.data.metrics["accuracy"] == pytest.approx(metadata.offline_metrics["accuracy"])
    assert (metadata.lineage or {})["experimentRun"] == {
        "runId": run_id, "trackingUri": uri, "experimentId": run.info.experiment_id}
    # The operator copies it into status.artifact.lineage: the cluster alone can tell it.
    outcome = inspect(Verify((tmp_path / "a").as_uri(), digest, False))
    assert outcome.summary is not None
    assert outcome.summary["lineage"]["experimentRun"]["runId"] == run_id


def test_package_refuses_a_run_the_store_does_not_have(tmp_path: Path, store: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    uri, _ = store
    csv, model = _data(tmp_path)
    assert _package(csv, model, tmp_path / "a", "--mlflow-run", "f" * 32, "--mlflow-tracking-uri", uri) == 1
    assert "RunNotFound" in capsys.readouterr().err


def test_the_trainer_records_its_own_run(tmp_path: Path, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    uri, client = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "churn-retraining")
    csv, _ = _data(tmp_path)
    result = train(_options(tmp_path, csv))
    metadata = Metadata.from_bytes((tmp_path / "models" / "churn-v2" / "metadata.json").read_bytes())
    link = (metadata.lineage or {})["experimentRun"]
    run = client.get_run(link["runId"])
    assert link["trackingUri"] == uri
    assert client.get_experiment(run.info.experiment_id).name == "churn-retraining"
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "churn-v2"
    assert run.data.tags["modelops.artifact.sha256"] == result.artifact_sha256
    assert run.data.tags["modelops.artifact.uri"] == result.artifact_uri
    assert run.data.params["params.C"] == "0.25"
    assert run.data.params["dataset_sha256"] == result.dataset_sha256
    assert run.data.metrics["accuracy"] == pytest.approx(result.challenger_metrics["accuracy"])

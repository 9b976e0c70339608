"""`modelops package`: from a fitted model file and a CSV to an artifact and its digest."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelops.artifact.loading import load_artifact
from modelops.cli import main

from .helpers import Dataset


@pytest.fixture
def reference_csv(tmp_path: Path, breast_cancer: Dataset) -> Path:
    path = tmp_path / "reference.csv"
    breast_cancer.frame.assign(malignant=breast_cancer.target).to_csv(path, index=False)
    return path


def _package(model: Path, reference: Path, out: Path, *extra: str) -> int:
    return main(
        ["package", "--model", str(model), "--reference", str(reference), "--target", "malignant",
         "--out", str(out), *extra]
    )


def test_package_a_skops_model_prints_the_digest_last(
    tmp_path: Path, reference_csv: Path, breast_cancer: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file = tmp_path / "fitted.skops"
    skops.io.dump(breast_cancer.model, model_file)
    out = tmp_path / "artifact"
    assert _package(model_file, reference_csv, out, "--lineage-json", '{"parent": "bc-v1"}') == 0
    sha = capsys.readouterr().out.strip().splitlines()[-1]
    assert sha == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    loaded = load_artifact(out, sha)
    assert loaded.metadata.target == "malignant"
    assert loaded.metadata.feature_names == tuple(breast_cancer.features)
    assert loaded.metadata.lineage == {"parent": "bc-v1"}
    assert loaded.metadata.offline_metrics["accuracy"] > 0.9


def test_a_pickled_model_needs_trusted(
    tmp_path: Path, reference_csv: Path, breast_cancer: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file = tmp_path / "fitted.joblib"
    joblib.dump(breast_cancer.model, model_file)
    assert _package(model_file, reference_csv, tmp_path / "a") == 1
    assert "UntrustedFormat" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert _package(model_file, reference_csv, tmp_path / "b", "--trusted", "--format", "joblib") == 0
    sha = capsys.readouterr().out.strip().splitlines()[-1]
    assert load_artifact(tmp_path / "b", sha, trusted=True).metadata.format == "joblib"


def test_features_and_categorical_columns_can_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "region": rng.choice([1, 2, 3], size=120),
            "spend": rng.gamma(2.0, size=120),
            "ignored": rng.normal(size=120),
            "churn": rng.choice(["yes", "no"], size=120),
        }
    )
    model = make_pipeline(
        ColumnTransformer([("r", OneHotEncoder(), ["region"])], remainder="passthrough"), LogisticRegression()
    ).fit(frame[["region", "spend"]], frame["churn"])
    model_file = tmp_path / "m.skops"
    skops.io.dump(model, model_file)
    frame.to_csv(tmp_path / "ref.csv", index=False)
    args = ["package", "--model", str(model_file), "--reference", str(tmp_path / "ref.csv"), "--target", "churn",
            "--out", str(tmp_path / "art"), "--features", "region,spend", "--categorical", "region", "--bins", "4"]
    assert main(args) == 0
    meta = orjson.loads((tmp_path / "art" / "metadata.json").read_bytes())
    assert meta["features"] == [{"name": "region", "type": "categorical"}, {"name": "spend", "type": "numeric"}]
    assert meta["classes"] == ["no", "yes"]
    profile = orjson.loads((tmp_path / "art" / "profile.json").read_bytes())
    assert sorted(profile["features"][0]["categories"]) == ["1", "2", "3"]
    assert len(profile["features"][1]["edges"]) == 3
    assert capsys.readouterr().out.strip().splitlines()[-1] == hashlib.sha256(
        (tmp_path / "art" / "manifest.json").read_bytes()
    ).hexdigest()


def test_a_missing_target_column_is_named(
    tmp_path: Path, reference_csv: Path, breast_cancer: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file = tmp_path / "fitted.skops"
    skops.io.dump(breast_cancer.model, model_file)
    code = main(["package", "--model", str(model_file), "--reference", str(reference_csv), "--target", "nope",
                 "--out", str(tmp_path / "a")])
    assert code == 1
    assert "'nope'" in capsys.readouterr().err


def test_parquet_without_pyarrow_says_what_to_install(
    tmp_path: Path, breast_cancer: Dataset, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyarrow is installed for the other tests: hide it (and pandas' other engine), as on a bare install.
    for name in ("pyarrow", "fastparquet"):
        monkeypatch.setitem(sys.modules, name, None)
    model_file = tmp_path / "fitted.skops"
    skops.io.dump(breast_cancer.model, model_file)
    (tmp_path / "ref.parquet").write_bytes(b"PAR1")
    assert _package(model_file, tmp_path / "ref.parquet", tmp_path / "a") == 1
    assert "pyarrow" in capsys.readouterr().err

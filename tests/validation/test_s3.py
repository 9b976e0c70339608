"""`modelops validate` against a real S3 API on 127.0.0.1 (moto's server mode): artifact
and holdout read from s3://, the report written beside the artifact in the bucket."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from modelops.artifact.verify import list_files
from modelops.cli import main
from tests.s3_server import s3_endpoint

from .conftest import SENSITIVE, Built


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with s3_endpoint("data", "models") as fs:
        yield fs


def test_artifact_and_holdout_from_s3_report_beside_the_artifact(
    s3: Any, fair: Built, holdout_frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for rel in list_files(fair.path):
        s3.pipe_file(f"models/churn/v2/{rel}", (fair.path / rel).read_bytes())
    buffer = io.BytesIO()
    holdout_frame.to_parquet(buffer, index=False)
    s3.pipe_file("data/holdout.parquet", buffer.getvalue())
    spec = {"holdoutUri": "s3://data/holdout.parquet", "metrics": [{"name": "accuracy", "min": 0.7}],
            "fairness": {"sensitiveFeature": SENSITIVE, "maxDemographicParityDifference": 0.1}}
    log = tmp_path / "log"
    args = ["validate", "--artifact-uri", "s3://models/churn/v2/", "--sha256", fair.sha256,
            "--spec", json.dumps(spec), "--termination-log", str(log)]
    assert main(args) == 0
    result = orjson.loads(log.read_bytes())
    assert result["reason"] == "ValidationPassed"
    assert result["report"] == "s3://models/churn/v2.validation.json"
    report = orjson.loads(s3.cat_file("models/churn/v2.validation.json"))
    assert report["holdout"]["rows"] == len(holdout_frame)
    assert [r["verdict"] for r in report["results"]] == ["Pass", "Pass"]
    # The artifact directory itself is untouched: it still verifies.
    assert not s3.exists("models/churn/v2/validation.json")

    # A bucket the Job cannot write to is no error: the verdict stands, stderr says why.
    capsys.readouterr()
    assert main([*args, "--report-uri", "s3://no-such-bucket/v2.validation.json"]) == 0
    assert orjson.loads(log.read_bytes())["reason"] == "ValidationPassed"
    assert "report not written (not an error): s3://no-such-bucket/" in capsys.readouterr().err

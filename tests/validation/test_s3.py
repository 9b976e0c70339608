"""`modelops validate` against a real S3 API on 127.0.0.1 (moto's server mode): artifact
and holdout read from s3://, the report written beside the artifact in the bucket."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

try:
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover - moto[server] is in the dev extra
    pytest.skip("moto[server] is not installed (pip install -e '.[dev]')", allow_module_level=True)

from modelops.artifact.verify import list_files
from modelops.cli import main

from .conftest import SENSITIVE, Built


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    import fsspec

    s3fs = fsspec.get_filesystem_class("s3")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        s3fs.clear_instance_cache()
        try:
            fs = s3fs()
            fs.mkdir("data")
            fs.mkdir("models")
            yield fs
        finally:
            s3fs.clear_instance_cache()
            server.stop()


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

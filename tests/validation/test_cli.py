"""`modelops validate` as the Job runs it: termination log, report beside the artifact,
exit codes that make a Job retry only what a rerun may cure."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pandas as pd
import pytest

from modelops.cli import main
from modelops.validation.outcome import TERMINATION_LIMIT
from modelops.validation.output import write_report

from .conftest import SENSITIVE, Built, applicants

SPEC = {
    "metrics": [{"name": "roc_auc", "min": 0.8}],
    "fairness": {"sensitiveFeature": SENSITIVE, "maxDemographicParityDifference": 0.1},
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serve(root: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _validate(model: Built, spec: dict[str, Any], log: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["validate", "--artifact-uri", model.uri, "--sha256", model.sha256,
                 "--spec", json.dumps(spec), "--termination-log", str(log), *extra])
    data = log.read_bytes()
    assert len(data) <= TERMINATION_LIMIT
    return code, orjson.loads(data)


def test_a_pass_writes_the_termination_log_and_the_report_beside_the_artifact(
    fair: Built, holdout_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "v1.validation.json"
    code, result = _validate(fair, {"holdoutUri": holdout_csv.as_uri(), **SPEC}, tmp_path / "log",
                             "--report-uri", report.as_uri())
    assert code == 0
    assert result["reason"] == "ValidationPassed"
    assert [r["metric"] for r in result["results"]] == ["roc_auc", "demographic_parity_difference"]
    assert result["report"] == report.as_uri()
    full = orjson.loads(report.read_bytes())
    assert full["artifact"]["sha256"] == fair.sha256
    assert full["holdout"]["rows"] == 800
    assert set(full["results"][1]["selectionRate"]) == {"A", "B"}
    assert json.loads(capsys.readouterr().out) == result  # the same JSON on stdout


def test_the_default_report_goes_beside_the_artifact_directory(
    fair: Built, holdout_csv: Path, tmp_path: Path
) -> None:
    code, result = _validate(fair, {"holdoutUri": holdout_csv.as_uri(), **SPEC}, tmp_path / "log")
    beside = Path(str(fair.path) + ".validation.json")
    try:
        assert code == 0
        assert result["report"] == fair.uri + ".validation.json"
        assert orjson.loads(beside.read_bytes())["reason"] == "ValidationPassed"
    finally:
        beside.unlink(missing_ok=True)


def test_a_failure_is_data_not_a_failed_job(biased: Built, holdout_csv: Path, tmp_path: Path) -> None:
    code, result = _validate(biased, {"holdoutUri": holdout_csv.as_uri(), **SPEC}, tmp_path / "log", "--no-report")
    assert code == 0
    assert result["reason"] == "ValidationFailed"
    assert result["message"].startswith("demographic_parity_difference across 'group' is ")
    assert "report" not in result


def test_http_holdout_and_a_retryable_error_when_it_is_unreachable(
    fair: Built, holdout_csv: Path, tmp_path: Path
) -> None:
    with _serve(holdout_csv.parent) as base:
        code, result = _validate(fair, {"holdoutUri": f"{base}/holdout.csv", **SPEC}, tmp_path / "log", "--no-report")
        assert (code, result["reason"]) == (0, "ValidationPassed")
        code, result = _validate(fair, {"holdoutUri": f"{base}/absent.csv", **SPEC}, tmp_path / "log", "--no-report")
    # A remote holdout that is not there (yet) may be there on the Job's next try.
    assert code == 1
    assert (result["reason"], result["problem"], result["retryable"]) == (
        "ValidationError", "HoldoutUnreadable", True)
    assert "HTTP 404" in result["message"]


def test_an_error_a_rerun_would_repeat_ends_the_job(fair: Built, tmp_path: Path,
                                                    holdout_frame: pd.DataFrame) -> None:
    path = tmp_path / "no_group.csv"
    holdout_frame.drop(columns=[SENSITIVE]).to_csv(path, index=False)
    code, result = _validate(fair, {"holdoutUri": path.as_uri(), **SPEC}, tmp_path / "log", "--no-report")
    assert code == 0
    assert (result["reason"], result["problem"], result["retryable"]) == (
        "ValidationError", "SensitiveFeatureMissing", False)


@pytest.mark.parametrize(("spec", "says"), [
    ("{not json", "Invalid JSON"),
    (json.dumps({"holdoutUri": "file:///h.csv", "metrics": [{"name": "f1"}]}), "needs min and/or max"),
    (json.dumps({"holdoutUri": "file:///h.csv", "metrics": [{"name": "f1", "min": 0.9, "max": 0.5}]}),
     "min 0.9 is above max 0.5"),
    (json.dumps({"holdoutUri": "file:///h.csv", "fairness": {"sensitiveFeature": "g", "minGroupRows": 0}}),
     "fairness.minGroupRows"),
    (json.dumps({"holdoutUri": "file:///h.csv", "surprise": 1}), "surprise"),
])
def test_an_invalid_spec_is_named(fair: Built, tmp_path: Path, spec: str, says: str) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec)
    code = main(["validate", "--artifact-uri", fair.uri, "--sha256", fair.sha256, "--spec-file", str(spec_file),
                 "--termination-log", str(tmp_path / "log"), "--no-report"])
    result = orjson.loads((tmp_path / "log").read_bytes())
    assert code == 0
    assert (result["reason"], result["problem"]) == ("ValidationError", "InvalidSpec")
    assert says in result["message"]


def test_a_wrong_digest_is_an_unusable_artifact(fair: Built, holdout_csv: Path, tmp_path: Path) -> None:
    wrong = Built(fair.path, "0" * 64)
    code, result = _validate(wrong, {"holdoutUri": holdout_csv.as_uri(), **SPEC}, tmp_path / "log", "--no-report")
    assert code == 0
    assert result["problem"] == "ArtifactUnusable"
    assert "DigestMismatch" in result["message"]


def test_a_read_only_report_location_is_said_not_failed(
    fair: Built, holdout_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for location in ("https://models.example/v1.validation.json", (blocker / "v1.validation.json").as_uri()):
        code, result = _validate(fair, {"holdoutUri": holdout_csv.as_uri(), **SPEC}, tmp_path / "log",
                                 "--report-uri", location)
        assert (code, result["reason"]) == (0, "ValidationPassed")
        assert "report" not in result
        assert "report not written (not an error)" in capsys.readouterr().err


def test_a_report_through_fsspec() -> None:
    uri = "memory://models/churn/v2.validation.json"
    assert write_report(uri, b'{"reason": "ValidationPassed"}') is None
    with fsspec.open(uri, "rb") as f:
        assert f.read() == b'{"reason": "ValidationPassed"}'


def test_a_run_with_many_groups_keeps_the_termination_log_within_4096_bytes(fair: Built, tmp_path: Path) -> None:
    frame = applicants(4000, seed=9)
    frame["district"] = [f"district-{i % 100:03d}" for i in range(len(frame))]  # 100 groups of 40
    path = tmp_path / "districts.parquet"
    frame.to_parquet(path)
    report = tmp_path / "report.json"
    spec = {"holdoutUri": path.as_uri(),
            "fairness": {"sensitiveFeature": "district", "minGroupMetric": {"name": "accuracy", "min": 0.8}}}
    code, result = _validate(fair, spec, tmp_path / "log", "--report-uri", str(report))
    assert code == 0
    full = orjson.loads(report.read_bytes())
    assert len(full["results"]) == 100
    failing = [r for r in full["results"] if r["verdict"] == "Fail"]
    assert result["reason"] == ("ValidationFailed" if failing else "ValidationPassed")
    assert "omitted" in result  # 100 figures do not fit in 4096 bytes
    assert len(result["results"]) + sum(result["omitted"].values()) == 100
    assert all(r in [{k: v for k, v in f.items() if k in r} for f in full["results"]] for r in result["results"])


def test_champion_arguments_go_together(fair: Built, tmp_path: Path) -> None:
    code = main(["validate", "--artifact-uri", fair.uri, "--sha256", fair.sha256, "--spec", "{}",
                 "--champion-uri", fair.uri, "--termination-log", str(tmp_path / "log")])
    assert code == 2


def test_an_unreachable_artifact_is_retried(holdout_csv: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, result = _validate(Built(Path("/nowhere"), "0" * 64), {"holdoutUri": holdout_csv.as_uri(), **SPEC},
                             tmp_path / "log", "--no-report", "--artifact-uri", f"http://127.0.0.1:{port}/v1/")
    assert code == 1
    assert (result["problem"], result["retryable"]) == ("ArtifactUnusable", True)
    assert "Connection refused" in result["message"]

"""A server never serves an artifact it could not verify: it stays live, never ready,
answers 503 with Retry-After and says why, in its answers and in its log."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import build_slow, process_server, thread_server, wait_until

pytestmark = pytest.mark.integration


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_metadata(path: Path) -> None:
    path.write_text(path.read_text().replace('"target"', '"label"'))


def _refusal(config: ServingConfig, caplog: pytest.LogCaptureFixture) -> tuple[httpx.Response, str]:
    """Serve over HTTP until the load gives up; the ready answer and the log line."""
    with caplog.at_level(logging.ERROR, "modelops.serving"), thread_server(create_app(DataPlane(config))) as url:
        wait_until(lambda: any("not ready" in r.message for r in caplog.records), 60, "the refusal")
        with httpx.Client(base_url=url) as client:
            assert client.get("/v2/health/live").status_code == 200
            ready = client.get("/v2/health/ready")
            infer = client.post(f"/v2/models/{config.model_dir.name if config.model_dir else ''}/infer", json={})
            assert infer.status_code == 503
            assert infer.headers["retry-after"] == "1"
    (line,) = [r.getMessage() for r in caplog.records if "not ready" in r.getMessage()]
    return ready, line


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda d: _flip_a_byte(d / "model.skops"), "DigestMismatch"),
        (lambda d: _edit_metadata(d / "metadata.json"), "DigestMismatch"),
        (lambda d: (d / "profile.json").unlink(), "ArtifactNotFound"),
    ],
    ids=["model-bytes", "metadata", "missing-file"],
)
def test_tampered_artifact_is_never_served(
    lr_artifact: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    tamper: Callable[[Path], None],
    reason: str,
) -> None:
    artifact = tmp_path / "cancer"
    shutil.copytree(lr_artifact, artifact)
    tamper(artifact)
    ready, line = _refusal(ServingConfig(model_dir=artifact), caplog)
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "1"
    assert reason in ready.json()["error"]
    assert reason in line
    assert str(artifact) in line


def test_pickle_needs_trusted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    artifact = tmp_path / "slow"
    build_slow(artifact, delay=0.0)
    ready, line = _refusal(ServingConfig(model_dir=artifact), caplog)
    assert "UntrustedFormat" in ready.json()["error"]
    assert "UntrustedFormat" in line
    trusted = DataPlane(ServingConfig(model_dir=artifact, trusted=True))
    trusted.load()
    assert trusted.ready
    trusted.close()


def test_the_cli_refuses_a_wrong_expected_digest(lr_artifact: Path) -> None:
    with process_server(lr_artifact, "--expected-sha256", "0" * 64, ready=False) as server:
        line = server.wait_log("not ready")
        assert "DigestMismatch" in line
        response = httpx.get(f"{server.url}/v2/models/cancer/ready")
        assert response.status_code == 503
        assert "DigestMismatch" in response.json()["error"]

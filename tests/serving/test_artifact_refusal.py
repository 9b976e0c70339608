"""A server never serves an artifact it could not verify: it stays live, never ready,
answers 503 with Retry-After and says why, in its answers and in its log."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.serving.support import build_slow, path_with_only_tests, process_server

pytestmark = pytest.mark.integration


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_metadata(path: Path) -> None:
    path.write_text(path.read_text().replace('"target"', '"label"'))


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
    lr_artifact: Path, tmp_path: Path, tamper: Callable[[Path], None], reason: str
) -> None:
    artifact = tmp_path / "cancer"
    shutil.copytree(lr_artifact, artifact)
    tamper(artifact)
    with process_server(artifact, ready=False) as server:
        line = server.wait_log("not ready")
        assert reason in line
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/v2/health/live").status_code == 200
            ready = client.get("/v2/health/ready")
            assert ready.status_code == 503
            assert ready.headers["retry-after"] == "1"
            assert reason in ready.json()["error"]
            infer = client.post("/v2/models/cancer/infer", json={"inputs": []})
            assert infer.status_code == 503
            assert "retry-after" in infer.headers


def test_wrong_expected_digest_is_refused(lr_artifact: Path) -> None:
    with process_server(lr_artifact, "--expected-sha256", "0" * 64, ready=False) as server:
        assert "DigestMismatch" in server.wait_log("not ready")
        assert httpx.get(f"{server.url}/v2/models/cancer/ready").status_code == 503


def test_pickle_needs_trusted(tmp_path: Path) -> None:
    artifact = tmp_path / "slow"
    build_slow(artifact, delay=0.0)
    path = path_with_only_tests(tmp_path)
    with process_server(artifact, ready=False, python_path=path) as server:
        assert "UntrustedFormat" in server.wait_log("not ready")
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 503
    with process_server(artifact, "--trusted", python_path=path) as server:
        assert httpx.get(f"{server.url}/v2/models/slow/ready").status_code == 200

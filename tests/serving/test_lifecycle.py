"""Overload and shutdown: 503 with Retry-After beyond the concurrency limit, and on
SIGTERM every request already in flight is answered before the process exits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import (
    build_slow,
    cancer_data,
    infer_body,
    path_with_only_tests,
    process_server,
    thread_server,
    wait_until,
)

pytestmark = pytest.mark.integration

X, _, NAMES = cancer_data()
DELAY = 1.5  # seconds per model call: holds requests in flight even on a busy machine


@pytest.fixture(scope="module")
def slow_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("slow")
    build_slow(tmp / "slow", delay=DELAY)
    return tmp / "slow", path_with_only_tests(tmp)


def _in_flight(url: str) -> int:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(r"^modelops_inflight_requests\{[^}]*\} (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def _post(url: str, i: int) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{url}/v2/models/slow/infer", json=infer_body(X[i : i + 1], NAMES))


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def test_overload_is_503_with_retry_after(slow_artifact: tuple[Path, Path], pool: ThreadPoolExecutor) -> None:
    config = ServingConfig(model_dir=slow_artifact[0], trusted=True, max_concurrency=2, max_batch_size=2)
    with thread_server(create_app(DataPlane(config))) as url:
        wait_until(lambda: httpx.get(f"{url}/v2/health/ready").status_code == 200, 60, "the model to load")
        futures = [pool.submit(_post, url, i) for i in range(2)]
        wait_until(lambda: _in_flight(url) == 2, 30, "two requests in flight")
        refused = _post(url, 5)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "overloaded" in refused.json()["error"]
        assert re.search(r'^modelops_requests_total\{code="503",[^}]*\} 1\.0$', httpx.get(f"{url}/metrics").text, re.M)
        assert [f.result().status_code for f in futures] == [200, 200]
        assert _post(url, 6).status_code == 200  # serving again once below the limit


def test_sigterm_answers_in_flight_requests_then_exits(
    slow_artifact: tuple[Path, Path], pool: ThreadPoolExecutor
) -> None:
    artifact, path = slow_artifact
    with process_server(artifact, "--trusted", "--max-batch-size", "1", python_path=path) as server:
        futures = [pool.submit(_post, server.url, i) for i in range(3)]
        wait_until(lambda: _in_flight(server.url) == 3, 30, "three requests in flight")
        server.terminate()
        server.wait_log("Shutting down")
        with pytest.raises(httpx.TransportError):  # no new connections while draining
            httpx.get(f"{server.url}/v2/health/live", timeout=5)
        responses = [f.result() for f in futures]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert all(r.json()["outputs"][0]["shape"] == [1] for r in responses)
        assert server.proc.wait(30) == 0

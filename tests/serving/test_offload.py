"""Large requests over real HTTP (issue 12, item 3): decoded and encoded off the event
loop, so liveness is answered meanwhile; too many rows to remember is said in the answer;
bodies in flight are bounded. uvicorn in a thread of this process, on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.serving import dataplane as dataplane_module
from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import cancer_data, infer_body, thread_server

pytestmark = pytest.mark.integration

X, Y, NAMES = cancer_data()
# Small thresholds, so that a few hundred rows make a "large" request.
CONFIG: dict[str, Any] = {
    "model_version": "v1",
    "offload_body_bytes": 4096,
    "offload_rows": 100,
    "feedback_max_request_rows": 200,
    "max_body_bytes": 1 << 20,
    "max_inflight_body_bytes": 1 << 20,
}


@pytest.fixture(scope="module")
def served(lr_artifact: Path) -> Iterator[tuple[DataPlane, str]]:
    dataplane = DataPlane(ServingConfig(model_dir=lr_artifact, **CONFIG))
    dataplane.load()
    assert dataplane.ready, dataplane.reason
    with thread_server(create_app(dataplane, load=False)) as url:
        yield dataplane, url


def _held(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[threading.Event, threading.Event]:
    """Make the data plane's ``name`` (decode_request or encode_response) wait, for large
    requests, until released: (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real: Callable[..., Any] = getattr(dataplane_module, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        size = len(args[0]) if name == "decode_request" else args[3].shape[0]
        if size >= (CONFIG["offload_body_bytes"] if name == "decode_request" else CONFIG["offload_rows"]):
            entered.set()
            release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(dataplane_module, name, held)
    return entered, release


@pytest.mark.parametrize("stage", ["decode_request", "encode_response"])
def test_liveness_is_answered_while_a_large_request_is_decoded_or_encoded(
    served: tuple[DataPlane, str], monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """The large request is held inside decoding (or encoding) until liveness has been
    answered: that can only happen if that work runs off the event loop (inline, the
    loop would wait for the release, and the probe would time out)."""
    _, url = served
    entered, release = _held(monkeypatch, stage)
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=url, timeout=10) as probe:
        large: Future[httpx.Response] = pool.submit(
            httpx.post, f"{url}/v2/models/cancer/infer", json=infer_body(X[:150], NAMES), timeout=60
        )
        assert entered.wait(30), "the large request never reached " + stage
        try:
            live = probe.get("/v2/health/live")
            small = probe.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES))
            assert not large.done()  # still held: liveness came first
        finally:
            release.set()
        assert live.json() == {"live": True}
        assert small.status_code == 200
        assert large.result().status_code == 200
        assert len(large.result().json()["outputs"][0]["data"]) == 150


def test_a_request_over_the_row_limit_is_answered_and_says_it_was_not_remembered(
    served: tuple[DataPlane, str],
) -> None:
    _, url = served
    with httpx.Client(base_url=url, timeout=30) as client:
        big = client.post("/v2/models/cancer/infer", json=infer_body(X[:201], NAMES, id="big-1"))
        assert big.status_code == 200
        assert big.json()["parameters"] == {"feedback": "not-stored: 201 rows > limit 200"}
        assert len(big.json()["outputs"][0]["data"]) == 201
        feedback = client.post("/v2/models/cancer/feedback", json={"id": "big-1", "labels": Y[:201].tolist()})
        assert feedback.status_code == 404
        assert "not stored (over 200 rows)" in feedback.json()["error"]

        fits = client.post("/v2/models/cancer/infer", json=infer_body(X[:200], NAMES, id="fits-1"))
        assert fits.json()["parameters"] == {"feedback_id": fits.headers["x-feedback-id"]}
        scored = client.post("/v2/models/cancer/feedback", json={"id": "fits-1", "labels": Y[:200].tolist()})
        assert scored.status_code == 200
        assert scored.json()["rows"] == 200


def test_bodies_past_the_budget_are_503_until_others_finish(served: tuple[DataPlane, str]) -> None:
    dataplane, url = served
    budget = dataplane.body_budget
    body = infer_body(X[:20], NAMES)
    with httpx.Client(base_url=url, timeout=30) as client:
        budget.used = budget.limit - 100  # as if other bodies were being served
        try:
            refused = client.post("/v2/models/cancer/infer", json=body)
            refused_feedback = client.post("/v2/models/cancer/feedback", json={"id": "x", "labels": [1] * 40})
        finally:
            budget.used = 0
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "limit is 1048576 bytes" in refused.json()["error"]
        assert refused_feedback.status_code == 503
        assert client.post("/v2/models/cancer/infer", json=body).status_code == 200
        assert budget.used == 0  # every answered request gave its bytes back

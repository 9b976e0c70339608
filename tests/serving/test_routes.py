"""The raw infer route (ASGI, ahead of FastAPI) answers exactly as the documented FastAPI routes do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import cancer_data, infer_body, thread_server

pytestmark = pytest.mark.integration

X, _, NAMES = cancer_data()


@pytest.fixture(scope="module")
def both(lr_artifact: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    dataplane = DataPlane(ServingConfig(model_dir=lr_artifact, model_version="v1", max_body_bytes=4096))
    dataplane.load()
    with thread_server(create_app(dataplane, load=False, raw_infer_route=True)) as raw, thread_server(
        create_app(dataplane, load=False, raw_infer_route=False)
    ) as routed, httpx.Client(base_url=raw) as f, httpx.Client(base_url=routed) as r:
        yield f, r


CASES: list[tuple[str, Any]] = [
    ("/v2/models/cancer/infer", infer_body(X[:3], NAMES, id="same")),
    ("/v2/models/cancer/versions/v1/infer", infer_body(X[:1], NAMES, id="same", parameters={"predict_proba": True})),
    ("/v2/models/cancer/versions/v2/infer", infer_body(X[:1], NAMES)),
    ("/v2/models/nope/infer", infer_body(X[:1], NAMES)),
    ("/v2/models/cancer/infer", {"inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": ["x"]}]}),
    ("/v2/models/cancer/infer", infer_body(X, NAMES)),  # over 4096 bytes
]


@pytest.mark.parametrize(("path", "body"), CASES)
def test_raw_infer_route_and_routes_agree(both: tuple[httpx.Client, httpx.Client], path: str, body: Any) -> None:
    raw, routed = (c.post(path, json=body, headers={"x-request-id": "rid"}) for c in both)
    assert raw.status_code == routed.status_code
    assert _without_feedback_id(raw) == _without_feedback_id(routed)
    assert raw.headers["x-request-id"] == routed.headers["x-request-id"] == "rid"
    assert raw.headers.get("retry-after") == routed.headers.get("retry-after")


def _without_feedback_id(response: httpx.Response) -> Any:
    """The body, less the routable feedback id (each answer gets its own), which must be
    the x-feedback-id header's when there is one."""
    body = response.json()
    parameters = body.get("parameters") or {}
    assert parameters.get("feedback_id") == response.headers.get("x-feedback-id")
    if response.status_code == 200:
        assert parameters["feedback_id"]  # the client chose the id: the body names the routable one
    parameters.pop("feedback_id", None)
    if not parameters:
        body.pop("parameters", None)
    return body

"""Fuzzing the app's own OpenAPI schema over real HTTP: whatever a client sends, no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import thread_server

# The schema does not depend on the model: read it from an app that never loads one.
schema = schemathesis.openapi.from_dict(create_app(DataPlane(ServingConfig()), load=False).openapi())


@pytest.fixture(scope="module")
def base_url(lr_artifact: Path) -> Iterator[str]:
    dataplane = DataPlane(ServingConfig(model_dir=lr_artifact, model_version="v1"))
    dataplane.load()
    assert dataplane.ready, dataplane.reason
    with thread_server(create_app(dataplane, load=False)) as url:
        yield url


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_server_fail(case: Any, base_url: str) -> None:
    if "name" in (case.path_parameters or {}):
        case.path_parameters["name"] = "cancer"  # reach the model, not only the 404s
    response = case.call(base_url=base_url)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}


# Inputs the fuzzer is unlikely to find, each once a 500 or no answer (issue 12, item 8).
MALFORMED: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v2/models/cancer/infer", {"json": {"id": "訂單-1", "inputs": [
        {"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": [1.0] * 8}]}}),
    ("POST", "/v2/models/cancer/infer", {"json": {"id": "a\r\nb", "inputs": [
        {"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": [1.0] * 8}]}}),
    ("POST", "/v2/models/cancer/infer", {"content": b'{"inputs": [{"name": "input-0", "shape": [1, 8], '
        b'"datatype": "FP64", "data": [NaN, ' + b"9" * 400 + b', 1, 1, 1, 1, 1, 1]}]}'}),
    ("GET", "/v2/models/cancer/drift?window=" + "9" * 400, {}),
    ("GET", "/v2/models/cancer/drift?window=99999999999999h", {}),
    ("GET", "/v2/models/cancer/drift?window=-1", {}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "sent"), MALFORMED)
def test_malformed_input_is_a_4xx_naming_the_problem(
    base_url: str, method: str, path: str, sent: dict[str, Any]
) -> None:
    import httpx

    response = httpx.request(method, base_url + path, timeout=30, **sent)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert response.headers["x-request-id"]

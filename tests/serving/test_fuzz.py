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

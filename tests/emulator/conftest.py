"""Fixtures for the emulator's own tests: a running emulator, an HTTP client, the test CRD."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from modelops.emulator.testing import EmulatorHandle, running_emulator

WIDGETS_CRD = Path(__file__).parent / "widgets-crd.yaml"
WIDGETS = "/apis/test.modelops.dev/v1/namespaces/default/widgets"
WIDGET_API = "test.modelops.dev/v1"


def widget(name: str = "w1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": WIDGET_API, "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": 3, **spec}}


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatorHandle]:
    """A running emulator with the Widget CRD installed."""
    with running_emulator(tmp_path / "kubeconfig", bookmark_interval=0.3, crds=[WIDGETS_CRD]) as handle:
        yield handle


@pytest.fixture
def api(k8s: EmulatorHandle) -> Iterator[httpx.Client]:
    # https with the emulator's own certificate and its bearer token, as kubectl connects.
    with httpx.Client(base_url=k8s.url, timeout=10, verify=k8s.ssl_context, headers=k8s.auth_headers) as client:
        yield client


@pytest.fixture
def widgets_crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WIDGETS_CRD.read_text())
    return loaded

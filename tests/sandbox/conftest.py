"""The sandbox's test fixtures: a node (the sandbox kubelet in a thread against a running
emulator, with its Service proxy) and a tiny packaged artifact for its pods to serve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelops.emulator.testing import EmulatorHandle, running_emulator
from modelops.sandbox.api import Api
from modelops.sandbox.kubelet import LocalKubelet
from modelops.sandbox.proxy import ServiceProxy
from tests.operator.harness import make_artifact


@dataclass
class Node:
    k8s: EmulatorHandle
    kubelet: LocalKubelet
    artifact: tuple[str, str]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_artifact(tmp_path_factory.mktemp("artifact") / "v1")


@pytest.fixture
def node(tmp_path: Path, artifact: tuple[str, str]) -> Iterator[Node]:
    with running_emulator(tmp_path / "kubeconfig", pod_logs=tmp_path / "sandbox" / "pods") as k8s:
        proxy = ServiceProxy()
        kubelet = LocalKubelet(Api.from_kubeconfig(k8s.kubeconfig), "default", tmp_path / "sandbox", proxy,
                               restart_backoff_s=1.0)
        stop = threading.Event()
        thread = threading.Thread(target=kubelet.run, args=(stop, 0.2), daemon=True)
        thread.start()
        try:
            yield Node(k8s, kubelet, artifact)
        finally:
            stop.set()
            thread.join(60)
            proxy.close()

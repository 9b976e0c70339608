"""`modelops operator` as a process, driven with kubectl: apply, get, wait, delete; probes and metrics."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import IMAGE, model_deployment, model_version, play_deployment_controller, wait_for

pytestmark = pytest.mark.e2e
MODELOPS = Path(sys.executable).parent / "modelops"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def operator_process(k8s: EmulatorHandle, tmp_path: Path) -> Iterator[tuple[int, int]]:
    health, metrics = _free_port(), _free_port()
    log = (tmp_path / "operator.log").open("w")
    process = subprocess.Popen(
        [str(MODELOPS), "operator", "--namespace", "default", "--kubeconfig", str(k8s.kubeconfig),
         "--image", IMAGE, "--health-address", "127.0.0.1", "--health-port", str(health),
         "--metrics-port", str(metrics), "--metrics-address", "127.0.0.1",
         "--resync", "5s", "--watch-timeout", "10s", "--backoff-max", "2s"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{health}/healthz"), "the operator's liveness endpoint", 60)
        yield health, metrics
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()
        assert code == 0, (tmp_path / "operator.log").read_text()[-3000:]


def test_apply_get_wait_and_delete_with_kubectl(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact], operator_process: tuple[int, int], tmp_path: Path
) -> None:
    v1 = artifacts[0]
    manifest = tmp_path / "churn.yaml"
    manifest.write_text(yaml.safe_dump_all([model_version("churn-v1", v1.uri, v1.sha256),
                                            model_deployment("churn-v1")]))
    applied = k8s.kubectl("apply", "-f", str(manifest)).stdout
    assert "modelversion.modelops.dev/churn-v1 created" in applied
    assert "modeldeployment.modelops.dev/churn created" in applied

    k8s.kubectl("wait", "--for=condition=Ready", "mv/churn-v1", "--timeout=60s")
    wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment churn-churn-v1")
    play_deployment_controller(k8s, "churn-churn-v1", 2)
    k8s.kubectl("wait", "--for=condition=Ready", "mdep/churn", "--timeout=60s")

    header, row = k8s.kubectl("get", "mdep").stdout.splitlines()
    assert header.split() == ["NAME", "STABLE", "CANDIDATE", "WEIGHT", "PHASE", "READY", "AGE"]
    assert row.split()[:5] == ["churn", "churn-v1", "100", "Stable", "True"]
    header, row = k8s.kubectl("get", "mv").stdout.splitlines()
    assert header.split() == ["NAME", "MODEL", "FORMAT", "READY", "AGE"]
    assert row.split()[0:2] == ["churn-v1", "churn"]
    assert "True" in row.split()

    k8s.kubectl("delete", "mdep", "churn", "--timeout=60s")
    wait_for(lambda: not k8s.list("apps/v1", "Deployment", "default") and not k8s.list("v1", "Service", "default"),
             "children deleted with their ModelDeployment")
    assert k8s.find("modelops.dev/v1alpha1", "ModelVersion", "churn-v1") is not None


def test_liveness_and_metrics_endpoints(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact], operator_process: tuple[int, int]
) -> None:
    health, metrics = operator_process
    v1 = artifacts[0]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_deployment("churn-v1"))
    wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "Deployment churn-churn-v1")
    assert "queue" in _get(f"http://127.0.0.1:{health}/healthz")

    def scraped() -> str | None:
        text = _get(f"http://127.0.0.1:{metrics}/metrics")
        return text if 'modelops_operator_reconciles_total{kind="ModelDeployment"' in text else None

    text = wait_for(scraped, "reconcile metrics")
    assert 'modelops_operator_reconciles_total{kind="ModelVersion",outcome="ok"}' in text
    assert 'modelops_operator_reconcile_duration_seconds_count{kind="ModelDeployment"}' in text

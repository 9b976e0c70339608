"""The sandbox as a kubectl user sees it, with the real operator serving a ModelDeployment.

pods (-o wide), logs (pod and deploy/NAME), services (TYPE, CLUSTER-IP, PORT(S); the ClusterIP
answers an inference request), deployments, replicasets and events print a real API server's
columns and content.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.sandbox.cluster import Sandbox, kubectl_path
from tests.operator.harness import make_artifact, model_deployment, model_version, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("sandbox")
    uri, sha = make_artifact(root / "artifact")
    running = Sandbox(workdir=root / "sandbox")
    running.start()
    try:
        docs = [model_version("churn-v1", uri, sha), {**model_deployment("churn-v1"), "spec": {
            "model": "churn", "version": "churn-v1", "replicas": 2}}]
        running.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

        def ready() -> bool:
            mdep = json.loads(running.kubectl("get", "mdep", "churn", "-o", "json"))
            return any(c["type"] == "Ready" and c["status"] == "True" for c in mdep["status"].get("conditions", []))

        wait_for(ready, "ModelDeployment churn Ready", timeout=150)
        yield running
    finally:
        running.stop()


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_pods_are_listed_wide_with_ip_and_node(sandbox: Sandbox) -> None:
    table = rows(sandbox.kubectl("get", "pods", "-o", "wide", "-l", "modelops.dev/version=churn-v1"))
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS",
                        "GATES"]
    assert len(table) == 3
    for row in table[1:]:
        assert row[0].startswith("churn-churn-v1-")
        assert row[1:4] == ["1/1", "Running", "0"]
        assert row[5].startswith("127.0.1.")
        assert row[6] == "modelops-sandbox"
    described = sandbox.kubectl("describe", "pod", table[1][0])
    assert "Controlled By:  ReplicaSet/churn-churn-v1-" in described


def test_logs_of_a_pod_and_of_the_deployment(sandbox: Sandbox) -> None:
    pod = rows(sandbox.kubectl("get", "pods", "-l", "modelops.dev/version=churn-v1"))[1][0]
    first = (sandbox.workdir / "pods" / "default" / pod / "serve.log").read_text().splitlines()[0]
    assert sandbox.kubectl("logs", pod).splitlines()[0] == first
    assert len(sandbox.kubectl("logs", "deploy/churn-churn-v1", "--tail=2").splitlines()) == 2
    assert "verified" in sandbox.kubectl("logs", pod, "-c", "fetch").lower()


def test_services_have_cluster_ips_that_answer(sandbox: Sandbox) -> None:
    table = rows(sandbox.kubectl("get", "svc", "churn"))
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    name, kind, ip, external, ports = table[1][:5]
    assert (name, kind, external, ports) == ("churn", "ClusterIP", "<none>", "8080/TCP")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(sandbox.service_network)  # 127.0.2.0/24 unless
    # another sandbox runs on this machine
    body = {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [0.1, 0.2, 0.3]}]}
    request = urllib.request.Request(f"http://{ip}:8080/v2/models/churn/infer", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})

    def answer() -> dict[str, Any]:
        with urllib.request.urlopen(request, timeout=10) as response:
            loaded: dict[str, Any] = json.loads(response.read())
            return loaded

    assert wait_for(answer, "an answer through the ClusterIP")["model_version"] == "churn-v1"


def test_deployments_replicasets_and_events_columns(sandbox: Sandbox) -> None:
    deploy = rows(sandbox.kubectl("get", "deploy", "churn-churn-v1"))
    assert deploy[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1][:4] == ["churn-churn-v1", "2/2", "2", "2"]
    rs = rows(sandbox.kubectl("get", "rs"))
    assert rs[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1][0].startswith("churn-churn-v1-")
    assert rs[1][1:4] == ["2", "2", "2"]
    events = sandbox.kubectl("get", "events").splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("modeldeployment/churn" in line for line in events[1:])


def test_kubectl_without_the_kubeconfigs_token_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "guess"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    done = subprocess.run([kubectl_path(), "--kubeconfig", str(tmp_path / "kubeconfig"), "get", "pods"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0
    assert "Unauthorized" in done.stderr or "provide credentials" in done.stderr

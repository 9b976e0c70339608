"""Cluster DNS in the sandbox: a pod's words that name a Service by ``<svc>.<ns>.svc`` reach it.

Pure: ``resolve_cluster_names`` replaces exactly the host names of known Services. For real: a
``modelops serve`` stable whose ``--shadow-url`` names the candidate's Service by its DNS name
mirrors to it through the sandbox (kubelet, ClusterIP proxy, real processes), and counts the
candidate's agreement in its own /metrics, as the Shadow strategy's stable pods do on a cluster.
"""

from __future__ import annotations

import json
import random
import re
import urllib.request
from typing import Any

import pytest

from modelops.sandbox.kubelet import cluster_hosts, resolve_cluster_names
from tests.operator.harness import wait_for
from tests.sandbox.conftest import Node
from tests.sandbox.test_kubelet_api import deployment, pods_of, ready_pods

HOSTS = {("churn-v2", "default"): "127.0.2.9", ("db", "data"): "127.0.2.10"}


@pytest.mark.parametrize(
    ("word", "resolved"),
    [
        ("http://churn-v2.default.svc:8080", "http://127.0.2.9:8080"),
        ("--shadow-url=http://churn-v2.default.svc.cluster.local:8080/v2", "--shadow-url=http://127.0.2.9:8080/v2"),
        ("db.data.svc", "127.0.2.10"),
        ("http://db.data.svc.cluster.local./x", "http://127.0.2.10/x"),
        # not a known Service, or not a cluster name: as written
        ("http://churn-v3.default.svc:8080", "http://churn-v3.default.svc:8080"),
        ("http://churn-v2.default.svc.example.com", "http://churn-v2.default.svc.example.com"),
        ("http://xchurn-v2.default.svc:8080", "http://xchurn-v2.default.svc:8080"),
        ("churn-v2", "churn-v2"),
    ],
)
def test_resolve_cluster_names_replaces_only_known_service_hosts(word: str, resolved: str) -> None:
    assert resolve_cluster_names(word, HOSTS) == resolved


def test_cluster_hosts_are_the_services_with_a_cluster_ip() -> None:
    services: list[dict[str, Any]] = [
        {"metadata": {"name": "a", "namespace": "default"}, "spec": {"clusterIP": "127.0.2.3"}},
        {"metadata": {"name": "headless", "namespace": "default"}, "spec": {"clusterIP": "None"}},
        {"metadata": {"name": "pending", "namespace": "default"}, "spec": {}},
    ]
    assert cluster_hosts(services) == {("a", "default"): "127.0.2.3"}


def _serving(name: str, artifact: tuple[str, str], extra: list[str]) -> dict[str, Any]:
    dep = deployment(name, artifact)
    serve = dep["spec"]["template"]["spec"]["containers"][0]
    serve["args"] = [*serve["args"], "--model-name", "churn", "--model-version", name, *extra]
    return dep


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


@pytest.mark.integration
def test_a_stable_pod_mirrors_to_the_candidate_service_named_by_its_cluster_dns_name(node: Node) -> None:
    k8s = node.k8s
    wanted = f"127.0.2.{random.randrange(100, 250)}"  # tests side by side do not collide
    k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "churn-v2", "namespace": "default"},
                "spec": {"clusterIP": wanted, "selector": {"modelops.dev/version": "churn-v2"},
                         "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}})
    k8s.create(_serving("churn-v2", node.artifact, []))
    url = "http://churn-v2.default.svc:8080"  # what the operator gives the stable pods
    k8s.create(_serving("churn-v1", node.artifact,
                        ["--shadow-url", url, "--shadow-percent", "100", "--shadow-version", "churn-v2"]))
    wait_for(lambda: ready_pods(k8s, "churn-v2", 1), "the candidate's pod ready", timeout=90)
    [stable] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "the stable's pod ready", timeout=90)
    # the Pod object keeps the name as written: only the local process sees the address
    assert url in stable["spec"]["containers"][0]["args"]
    base = f"http://{stable['status']['podIP']}:8080"
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [4, 3], "datatype": "FP64",
                                   "data": [0.1, 0.2, 0.3, -1, -1, 0, 2, 1, 0, -0.5, 0.3, 0.1]}]}).encode()
    for _ in range(5):
        request = urllib.request.Request(f"{base}/v2/models/churn/infer", data=body,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def agreed() -> str | None:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        return text if _metric(text, "modelops_shadow_agreed_rows_total", candidate="churn-v2") >= 20 else None

    text = wait_for(agreed, "20 rows compared with the candidate and agreed (same model)", timeout=30)
    assert _metric(text, "modelops_shadow_rows_total", candidate="churn-v2") == 20
    assert _metric(text, "modelops_shadow_requests_total", candidate="churn-v2", outcome="error") == 0
    assert pods_of(k8s, "churn-v2")

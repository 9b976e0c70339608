"""The sandbox's kube-proxy: ClusterIP:port forwards to the ready pods of the selector, in turn."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from modelops.sandbox.proxy import ServiceProxy, endpoints


def pod(name: str, ip: str, *, ready: bool = True, labels: dict[str, str] | None = None,
        namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "a"}},
            "spec": {"containers": [{"name": "serve", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def service(name: str, ip: str, target: Any = "http", selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": ip, "selector": selector or {"app": "a"},
                     "ports": [{"port": 80, "targetPort": target, "protocol": "TCP"}]}}


def test_ready_pods_of_the_selector_in_the_services_namespace_by_named_or_numbered_port() -> None:
    pods = [pod("b", "127.0.1.2"), pod("a", "127.0.1.1"), pod("c", "127.0.1.3", ready=False),
            pod("d", "127.0.1.4", labels={"app": "other"}), pod("e", "127.0.1.5", namespace="team")]
    assert endpoints([service("s", "127.0.2.2")], pods) == {("127.0.2.2", 80): [("127.0.1.1", 8080),
                                                                                 ("127.0.1.2", 8080)]}
    assert endpoints([service("s", "127.0.2.2", target=9000)], pods)[("127.0.2.2", 80)][0] == ("127.0.1.1", 9000)
    assert endpoints([service("s", "127.0.2.2", selector={"app": "none"})], pods) == {("127.0.2.2", 80): []}
    assert endpoints([service("h", "None")], pods) == {}


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host, _port = self.connection.getsockname()[:2]
        body = str(host).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[tuple[str, int]]]:
    servers = [http.server.ThreadingHTTPServer((f"127.0.1.{200 + i}", 0), _Named) for i in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield [(str(s.server_address[0]), int(s.server_address[1])) for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_connections_to_the_cluster_ip_go_to_each_backend_in_turn(backends: list[tuple[str, int]]) -> None:
    proxy = ServiceProxy()
    try:
        proxy.update({("127.0.2.250", 18080): backends})
        answers = []
        for _ in range(4):
            with urllib.request.urlopen("http://127.0.2.250:18080/", timeout=5) as answer:
                answers.append(answer.read().decode())
        assert answers == ["127.0.1.200", "127.0.1.201", "127.0.1.200", "127.0.1.201"]
        proxy.update({})  # the Service is gone: nothing listens there any more
        with pytest.raises(urllib.error.URLError, match="Connection refused"):
            urllib.request.urlopen("http://127.0.2.250:18080/", timeout=5)
    finally:
        proxy.close()


def test_a_dropped_pod_gets_no_new_connection_before_the_next_update(backends: list[tuple[str, int]]) -> None:
    proxy = ServiceProxy()
    try:
        proxy.update({("127.0.2.251", 18080): backends})
        proxy.drop({backends[0][0]})  # about to be stopped: the kubelet drops it before SIGTERM
        answers = []
        for _ in range(4):
            with urllib.request.urlopen("http://127.0.2.251:18080/", timeout=5) as answer:
                answers.append(answer.read().decode())
        assert answers == [backends[1][0]] * 4
    finally:
        proxy.close()

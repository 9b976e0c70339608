"""The sandbox gateway: HTTPRoute matching, weights and mirroring, pure and over real HTTP.

The pure half builds the routing table with `httproutes.plan` from route, Service and Pod
dicts and asserts the Gateway API's precedence rules, the weighted choice and the mirror
share. The integration half runs the gateway against the API emulator, with tiny HTTP
backends on 127.0.0.1 behind Services (Pods written through the API, as the sandbox kubelet
writes them), and counts answers: shares are checked against binomial bounds, never clocks.
"""

from __future__ import annotations

import http.client
import http.server
import math
import random
import subprocess
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle, running_emulator
from modelops.sandbox import httproutes
from modelops.sandbox.api import Api
from modelops.sandbox.crds import CRDS_DIR
from modelops.sandbox.gateway import SandboxGateway
from modelops.sandbox.httproutes import CONTROLLER, GROUP, Listener, Target
from tests.operator.harness import wait_for

LISTENER = Listener(namespace="default", gateway="sandbox", port=80, allowed_from="All")
ROUTES = f"{GROUP}/v1"


def service(name: str, *, namespace: str = "default", port: int = 8080, ip: str = "127.0.2.9") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "selector": {"app": name},
                     "ports": [{"port": port, "targetPort": "http", "protocol": "TCP"}]}}


def pod(app: str, ip: str, *, container_port: int = 8080, namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": f"{app}-pod", "namespace": namespace, "labels": {"app": app}},
            "spec": {"containers": [{"name": "serve", "ports": [{"name": "http", "containerPort": container_port}]}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


BACKENDS = [service("a"), service("b"), service("c")]
PODS = [pod("a", "127.0.1.1"), pod("b", "127.0.1.2"), pod("c", "127.0.1.3")]


def route(name: str, rules: list[dict[str, Any]], *, hostnames: list[str] | None = None, namespace: str = "default",
          created: str = "2026-01-01T00:00:00Z", parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created, "generation": 1},
            "spec": {"parentRefs": [parent or {"name": "sandbox", "namespace": "default"}],
                     "hostnames": hostnames or [], "rules": rules}}


def to(backend: str, weight: int = 1, **more: Any) -> dict[str, Any]:
    return {"name": backend, "port": 8080, "weight": weight, **more}


def rule(*backends: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"backendRefs": list(backends), **more}


def prefix(value: str, **more: Any) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": value}, **more}


def exact(value: str, **more: Any) -> dict[str, Any]:
    return {"path": {"type": "Exact", "value": value}, **more}


def served_by(table: httproutes.Table, host: str, path: str, method: str = "GET", *,
              headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> str | None:
    """`route-name/rule-index` of the rule serving a request, None for a 404."""
    found = table.route_for(host, path, method, headers, query)
    return None if found is None else f"{found.route[1]}/{found.index}"


def conditions_of(plan: httproutes.Plan, name: str) -> dict[str, tuple[str, str]]:
    (parent,) = plan.statuses[("default", name)]
    return {c.type: (c.status, c.reason) for c in parent.conditions}


# ---- matching -------------------------------------------------------------------------------------


def test_path_precedence_exact_then_longest_prefix_then_method_then_headers_then_query() -> None:
    table = httproutes.plan(LISTENER, [route("r", [
        rule(to("a"), matches=[prefix("/")]),
        rule(to("a"), matches=[prefix("/v2/models")]),
        rule(to("a"), matches=[exact("/v2/models/churn/infer")]),
        rule(to("a"), matches=[prefix("/v2/models", method="POST")]),
        rule(to("a"), matches=[prefix("/v2/models", method="POST", headers=[{"name": "X-Arm", "value": "b"}])]),
        rule(to("a"), matches=[prefix("/v2/models", method="POST", headers=[{"name": "X-Arm", "value": "b"}],
                                      queryParams=[{"name": "debug", "value": "1"}])]),
    ])], BACKENDS, PODS).table
    arm_b, debug = {"x-arm": "b"}, {"debug": "1"}
    assert served_by(table, "h", "/v2/models/churn/infer", "POST", headers=arm_b, query=debug) == "r/2"
    assert served_by(table, "h", "/v2/models/churn", "POST", headers=arm_b, query=debug) == "r/5"
    assert served_by(table, "h", "/v2/models/churn", "POST", headers={"x-arm": "b"}) == "r/4"
    assert served_by(table, "h", "/v2/models/churn", "POST", headers={"x-arm": "a"}) == "r/3"
    assert served_by(table, "h", "/v2/models/churn", "GET") == "r/1"
    assert served_by(table, "h", "/v2/health/ready") == "r/0"


def test_prefix_matches_whole_path_elements_and_ignores_a_trailing_slash() -> None:
    table = httproutes.plan(LISTENER, [route("r", [rule(to("a"), matches=[prefix("/abc/")])])], BACKENDS, PODS).table
    for path in ("/abc", "/abc/", "/abc/def"):
        assert served_by(table, "h", path) == "r/0", path
    assert served_by(table, "h", "/abcd") is None
    assert served_by(table, "h", "/") is None


def test_header_names_are_case_insensitive_and_regular_expressions_match_whole_values() -> None:
    table = httproutes.plan(LISTENER, [route("r", [rule(to("a"), matches=[prefix("/", headers=[
        {"name": "X-Model", "type": "RegularExpression", "value": "churn-v[0-9]+"}])])])], BACKENDS, PODS).table
    assert served_by(table, "h", "/", headers={"x-model": "churn-v12"}) == "r/0"
    assert served_by(table, "h", "/", headers={"x-model": "churn-v12-rc"}) is None
    assert served_by(table, "h", "/") is None


def test_exact_hostname_beats_wildcard_beats_none_without_falling_back() -> None:
    routes = [route("any", [rule(to("a"))]),
              route("wild", [rule(to("a"))], hostnames=["*.example.com"]),
              route("exact", [rule(to("a"), matches=[prefix("/only")])], hostnames=["churn.example.com"])]
    table = httproutes.plan(LISTENER, routes, BACKENDS, PODS).table
    assert served_by(table, "churn.example.com:8080", "/only/x") == "exact/0"  # the Host's port is ignored
    # The exact hostname's routes are the virtual host: its rules match or it is a 404.
    assert served_by(table, "churn.example.com", "/other") is None
    assert served_by(table, "a.b.example.com", "/other") == "wild/0"  # a wildcard spans one or more labels
    assert served_by(table, "example.com", "/other") == "any/0"  # ... but not the apex
    assert served_by(table, "elsewhere.org", "/") == "any/0"


def test_ties_go_to_the_oldest_route_then_by_name_then_to_the_first_rule() -> None:
    routes = [route("b-newer", [rule(to("a"))], created="2026-01-02T00:00:00Z"),
              route("c-old", [rule(to("a")), rule(to("a"))], created="2026-01-01T00:00:00Z"),
              route("a-old", [rule(to("a")), rule(to("a"))], created="2026-01-01T00:00:00Z")]
    table = httproutes.plan(LISTENER, routes, BACKENDS, PODS).table
    assert served_by(table, "h", "/x") == "a-old/0"


# ---- weights and mirrors ---------------------------------------------------------------------------


class _EveryDraw(random.Random):
    """randrange(n) returns 0, 1, ..., n-1 in turn: over n draws, every outcome exactly once."""

    def __init__(self) -> None:
        super().__init__(0)
        self.turn = 0

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        assert stop is None
        self.turn += 1
        return (self.turn - 1) % start


def test_weights_are_exact_in_expectation_and_weight_zero_is_never_chosen() -> None:
    targets = (Target("a", 80), Target("zero", 0), Target("b", 20), Target("c", 3))
    every = _EveryDraw()
    counts = Counter(t.service for t in (httproutes.pick(targets, every) for _ in range(103)) if t)
    assert counts == {"a": 80, "b": 20, "c": 3}  # each weight's share of the draws, exactly
    assert httproutes.pick((Target("a", 0), Target("b", 0)), every) is None  # all zero: the gateway answers 500
    assert httproutes.pick((), every) is None


def test_the_weighted_pick_is_deterministic_under_a_seed() -> None:
    targets = (Target("a", 80), Target("b", 20))

    def draws(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [t.service for t in (httproutes.pick(targets, rng) for _ in range(5000)) if t]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert abs(draws(7).count("b") - 1000) < 4.5 * math.sqrt(5000 * 0.2 * 0.8)


@pytest.mark.parametrize(("spec", "share"), [({"percent": 50}, (1, 2)), ({"percent": 0}, (0, 1)),
                                              ({"fraction": {"numerator": 1, "denominator": 3}}, (1, 3)),
                                              ({}, (1, 1))])
def test_a_mirror_copies_its_percent_or_fraction_of_requests(spec: dict[str, Any], share: tuple[int, int]) -> None:
    mirror_filter = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "c", "port": 8080}, **spec}}
    plan = httproutes.plan(LISTENER, [route("r", [rule(to("a"), filters=[mirror_filter])])], BACKENDS, PODS)
    found = plan.table.route_for("h", "/")
    assert found is not None
    (mirror,) = found.mirrors
    assert mirror.endpoints == (("127.0.1.3", 8080),)
    every = _EveryDraw()
    copies = sum(httproutes.mirrored(mirror, every) for _ in range(300))
    assert copies * share[1] == 300 * share[0]


# ---- statuses -------------------------------------------------------------------------------------


def test_a_valid_route_is_accepted_and_its_references_resolved() -> None:
    plan = httproutes.plan(LISTENER, [route("r", [rule(to("a", 80), to("b", 20))])], BACKENDS, PODS)
    assert conditions_of(plan, "r") == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    found = plan.table.route_for("h", "/")
    assert found is not None
    assert [(t.service, t.weight, t.endpoints) for t in found.targets] == [
        ("default/a:8080", 80, (("127.0.1.1", 8080),)), ("default/b:8080", 20, (("127.0.1.2", 8080),))]
    assert plan.attached == 1


@pytest.mark.parametrize(("rules", "accepted", "refs"), [
    ([rule(to("a"), matches=[{"path": {"type": "RegularExpression", "value": "/v[0-9]"}}])],
     ("False", "UnsupportedValue"), ("True", "ResolvedRefs")),
    ([rule(to("a"), filters=[{"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}])],
     ("False", "UnsupportedValue"), ("True", "ResolvedRefs")),
    ([rule(to("a", filters=[{"type": "RequestMirror"}]))], ("False", "UnsupportedValue"), ("True", "ResolvedRefs")),
    ([rule(to("missing"))], ("True", "Accepted"), ("False", "BackendNotFound")),
    ([rule(to("a", port=9999))], ("True", "Accepted"), ("False", "BackendNotFound")),
    ([rule(to("a", kind="ServiceImport", group="multicluster.x-k8s.io"))], ("True", "Accepted"),
     ("False", "InvalidKind")),
    ([rule(to("a", namespace="other"))], ("True", "Accepted"), ("False", "RefNotPermitted")),
    ([rule(to("a"), filters=[{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "gone", "port": 1}}}])],
     ("True", "Accepted"), ("False", "BackendNotFound")),
])
def test_what_the_gateway_cannot_do_is_said_in_the_route_status(
        rules: list[dict[str, Any]], accepted: tuple[str, str], refs: tuple[str, str]) -> None:
    plan = httproutes.plan(LISTENER, [route("r", rules)], BACKENDS, PODS)
    assert conditions_of(plan, "r") == {"Accepted": accepted, "ResolvedRefs": refs}
    (parent,) = plan.statuses[("default", "r")]
    assert all(c.message for c in parent.conditions)
    served = plan.table.route_for("h", "/") is not None
    assert served == (accepted[0] == "True")


def test_an_invalid_backend_keeps_its_share_and_that_share_answers_500() -> None:
    plan = httproutes.plan(LISTENER, [route("r", [rule(to("a", 1), to("missing", 1))])], BACKENDS, PODS)
    found = plan.table.route_for("h", "/")
    assert found is not None
    every = _EveryDraw()
    picked = [httproutes.pick(found.targets, every) for _ in range(2)]
    assert [t.problem is not None for t in picked if t] == [False, True]


@pytest.mark.parametrize(("parent", "namespace", "listener", "reason"), [
    ({"name": "sandbox", "namespace": "default", "sectionName": "https"}, "default", LISTENER, "NoMatchingParent"),
    ({"name": "sandbox", "namespace": "default", "port": 443}, "default", LISTENER, "NoMatchingParent"),
    ({"name": "sandbox", "namespace": "default"}, "team", Listener("default", "sandbox", allowed_from="Same"),
     "NotAllowedByListeners"),
])
def test_a_route_the_listener_does_not_admit_is_not_accepted(parent: dict[str, Any], namespace: str,
                                                             listener: Listener, reason: str) -> None:
    plan = httproutes.plan(listener, [route("r", [rule()], parent=parent, namespace=namespace)], [], [])
    (status,) = plan.statuses[(namespace, "r")]
    assert (status.conditions[0].type, status.conditions[0].status, status.conditions[0].reason) == (
        "Accepted", "False", reason)
    assert plan.table.entries == ()


def test_a_parent_ref_naming_the_listener_and_its_port_attaches() -> None:
    parent = {"name": "sandbox", "namespace": "default", "sectionName": "http", "port": 80}
    plan = httproutes.plan(LISTENER, [route("r", [rule(to("a"))], parent=parent)], BACKENDS, PODS)
    assert conditions_of(plan, "r")["Accepted"] == ("True", "Accepted")
    assert plan.table.route_for("h", "/") is not None


def test_the_shorter_of_the_route_timeouts_bounds_the_forwarded_request() -> None:
    plan = httproutes.plan(LISTENER, [route("r", [rule(to("a"), timeouts={"request": "10s", "backendRequest": "2s"}),
                                                  rule(to("a"), matches=[prefix("/none")])])], BACKENDS, PODS)
    timed, untimed = (plan.table.route_for("h", "/x"), plan.table.route_for("h", "/none"))
    assert timed is not None
    assert untimed is not None
    assert (timed.timeout_s, untimed.timeout_s) == (2.0, None)


def test_a_listener_hostname_keeps_only_the_route_hostnames_that_intersect_it() -> None:
    listener = Listener("default", "sandbox", hostname="*.example.com", allowed_from="All")
    plan = httproutes.plan(listener, [route("r", [rule(to("a"))], hostnames=["a.example.com", "a.example.net"]),
                                      route("far", [rule(to("a"))], hostnames=["example.org"])], BACKENDS, PODS)
    assert served_by(plan.table, "a.example.com", "/") == "r/0"
    assert served_by(plan.table, "a.example.net", "/") is None
    assert conditions_of(plan, "far")["Accepted"] == ("False", "NoMatchingListenerHostname")


def test_routes_of_another_gateway_are_neither_served_nor_written() -> None:
    other = route("other", [rule(to("a"))], parent={"name": "istio", "namespace": "default"})
    plan = httproutes.plan(LISTENER, [other], BACKENDS, PODS)
    assert plan.statuses == {}
    assert plan.table.route_for("h", "/") is None


def test_gateway_api_durations() -> None:
    assert httproutes.duration_s("1h2m3s4ms") == pytest.approx(3723.004)
    assert httproutes.duration_s("250ms") == pytest.approx(0.25)
    assert httproutes.duration_s("0s") is None  # disables the timeout
    with pytest.raises(ValueError, match="not a Gateway API duration"):
        httproutes.duration_s("5 minutes")


# ---- over real HTTP, against the emulator -----------------------------------------------------------


@dataclass
class Backend:
    """A tiny HTTP server on 127.0.0.1 that answers its name and counts what it got."""

    name: str
    hold: threading.Event | None = None  # set: answers at once; clear: waits (a slow backend)
    hits: int = 0
    bodies: list[bytes] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> int:
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered, flushed once per answer: headers and body in one segment, as a real server
            # writes them (two small writes meet Nagle and a delayed ACK: 40 ms each).
            wbufsize = 65536

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                backend.hits += 1
                backend.bodies.append(body)
                if backend.hold is not None:
                    backend.hold.wait(30)
                seen = f"host={self.headers.get('Host')} id={self.headers.get('X-Request-Id')}"
                answer = f"{backend.name} {seen}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("X-Backend", backend.name)
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return int(self.server.server_address[1])

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Cluster:
    k8s: EmulatorHandle
    gateway: SandboxGateway
    backends: dict[str, Backend]

    def serve(self, name: str, port: int) -> None:
        """Service `name` (port 8080) over one ready Pod at 127.0.0.1:port, as the kubelet writes it."""
        labels = {"app": name}
        self.k8s.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                         "spec": {"containers": [{"name": "serve", "image": "x",
                                                  "ports": [{"name": "http", "containerPort": port}]}]}},
                        namespace="default")
        self.k8s.patch_status("v1", "Pod", name, {"phase": "Running", "podIP": "127.0.0.1",
                                                  "conditions": [{"type": "Ready", "status": "True"}]})
        self.k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                         "spec": {"selector": labels, "ports": [{"port": 8080, "targetPort": "http"}]}},
                        namespace="default")

    def route(self, name: str, spec: dict[str, Any]) -> int:
        """Create or replace HTTPRoute `name`; wait until the gateway serves this generation."""
        found = self.k8s.find(ROUTES, "HTTPRoute", name)
        body = {"apiVersion": ROUTES, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "default"},
                "spec": spec}
        if found is None:
            generation = int(self.k8s.create(body)["metadata"]["generation"])
        else:
            generation = int(self.k8s.patch(ROUTES, "HTTPRoute", name, {"spec": spec})["metadata"]["generation"])
        return generation

    def parents(self, name: str, generation: int | None = None) -> list[dict[str, Any]]:
        def written() -> list[dict[str, Any]] | None:
            obj = self.k8s.get(ROUTES, "HTTPRoute", name)
            parents = list((obj.get("status") or {}).get("parents") or [])
            current = all(c.get("observedGeneration") == (generation or obj["metadata"]["generation"])
                          for p in parents for c in p["conditions"])
            return parents if parents and current else None

        return wait_for(written, f"status.parents of HTTPRoute {name}", timeout=15)

    def get(self, host: str, path: str = "/", count: int = 1, body: bytes | None = None) -> list[tuple[int, str]]:
        """`count` requests on one kept-alive connection: (status, answer) each."""
        address = urllib.parse.urlsplit(self.gateway.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        answers = []
        try:
            for _ in range(count):
                connection.request("POST" if body is not None else "GET", path, body=body,
                                   headers={"Host": host, "X-Request-Id": "r-1"})
                answer = connection.getresponse()
                answers.append((answer.status, answer.read().decode()))
        finally:
            connection.close()
        return answers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    backends = {name: Backend(name) for name in ("stable", "canary", "mirror")}
    backends["slow"] = Backend("slow", hold=threading.Event())
    with running_emulator(tmp_path_factory.mktemp("gateway") / "kubeconfig") as k8s:
        k8s.apply_crds(*sorted(CRDS_DIR.glob("gateway.networking.k8s.io_*.yaml")))
        gateway = SandboxGateway(Api.from_kubeconfig(k8s.kubeconfig), seed=20261130, mirror_queue=64,
                                 mirror_workers=2, mirror_timeout_s=60)
        state = Cluster(k8s, gateway, backends)
        try:
            gateway.start()
            for name, backend in backends.items():
                state.serve(name, backend.start())
            state.serve("down", _closed_port())
            yield state
        finally:
            gateway.close()
            for backend in backends.values():
                backend.stop()


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _binomial_bound(n: int, p: float) -> float:
    return 4.5 * math.sqrt(n * p * (1 - p))  # |count - n p| beyond this: chance below 1e-5


def test_the_gateway_object_says_where_it_listens(cluster: Cluster) -> None:
    def programmed() -> dict[str, Any] | None:
        status = cluster.k8s.get(ROUTES, "Gateway", "sandbox").get("status") or {}
        ok = any(c["type"] == "Programmed" and c["status"] == "True" for c in status.get("conditions") or [])
        return status if ok else None

    status = wait_for(programmed, "Gateway default/sandbox Programmed")
    assert status["addresses"] == [{"type": "IPAddress", "value": "127.0.0.1"}]
    spec = cluster.k8s.get(ROUTES, "Gateway", "sandbox")["spec"]
    assert spec["gatewayClassName"] == "modelops-sandbox"
    assert spec["listeners"][0]["port"] == int(cluster.gateway.url.rsplit(":", 1)[1])
    gateway_class = cluster.k8s.get(ROUTES, "GatewayClass", "modelops-sandbox", namespace=None)
    assert gateway_class["spec"]["controllerName"] == CONTROLLER
    assert [(c["type"], c["status"]) for c in gateway_class["status"]["conditions"]] == [("Accepted", "True")]


def test_weights_split_real_traffic_and_a_route_update_takes_effect(cluster: Cluster) -> None:
    generation = cluster.route("churn", {"parentRefs": [{"name": "sandbox"}], "hostnames": ["churn.local"],
                                         "rules": [{"backendRefs": [to("stable", 80), to("canary", 20)]}]})
    (parent,) = cluster.parents("churn", generation)
    assert parent["controllerName"] == CONTROLLER
    assert parent["parentRef"]["name"] == "sandbox"
    assert {c["type"]: (c["status"], c["reason"]) for c in parent["conditions"]} == {
        "Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    answers = cluster.get("churn.local", "/v2/models/churn/infer", count=2000)
    assert {status for status, _ in answers} == {200}
    shares = Counter(text.split()[0] for _, text in answers)
    assert set(shares) == {"stable", "canary"}
    assert abs(shares["canary"] - 400) < _binomial_bound(2000, 0.2), shares
    assert answers[0][1].endswith("host=churn.local id=r-1")  # Host and the other headers are forwarded as sent

    generation = cluster.route("churn", {"parentRefs": [{"name": "sandbox"}], "hostnames": ["churn.local"],
                                         "rules": [{"backendRefs": [to("stable", 0), to("canary", 100)]}]})
    cluster.parents("churn", generation)  # written after the new table is in place
    assert Counter(text.split()[0] for _, text in cluster.get("churn.local", count=200)) == {"canary": 200}

    generation = cluster.route("churn", {"parentRefs": [{"name": "sandbox"}], "hostnames": ["churn.local"],
                                         "rules": [{"backendRefs": [to("stable", 0), to("canary", 0)]}]})
    cluster.parents("churn", generation)
    ((status, text),) = cluster.get("churn.local")
    assert status == 500
    assert "no backendRef has a weight above 0" in text


def test_a_mirror_gets_its_share_and_never_changes_the_clients_answer(cluster: Cluster) -> None:
    mirror = cluster.backends["mirror"]
    before = mirror.hits
    stats = cluster.gateway.stats
    queued, mirrored, decided = stats.mirror_queued, stats.mirrored, stats.mirror_queued + stats.mirror_dropped
    spec = {"parentRefs": [{"name": "sandbox"}], "hostnames": ["shadow.local"],
            "rules": [{"backendRefs": [to("stable")],
                       "filters": [{"type": "RequestMirror", "requestMirror": {
                           "backendRef": {"name": "mirror", "port": 8080}, "percent": 50}}]}]}
    cluster.parents("shadow", cluster.route("shadow", spec))
    answers = cluster.get("shadow.local", "/v2/models/churn/infer", count=400, body=b'{"inputs": []}')
    assert {(status, text.split()[0]) for status, text in answers} == {(200, "stable")}
    stats = cluster.gateway.stats
    copies = stats.mirror_queued + stats.mirror_dropped - decided  # requests chosen for a copy
    assert abs(copies - 200) < _binomial_bound(400, 0.5)
    sent = wait_for(lambda: stats.mirror_queued - queued == stats.mirrored - mirrored and stats.mirrored - mirrored,
                    "the queued copies sent")
    assert mirror.hits - before == sent  # every copy sent reached the mirror backend, and nothing else did
    assert sent >= copies - 64  # at most a queue's worth dropped, even on a loaded machine
    assert set(mirror.bodies[before:]) == {b'{"inputs": []}'}  # the copy carries the request's body


def test_a_mirror_that_is_down_or_slow_is_dropped_and_counted_not_waited_for(cluster: Cluster) -> None:
    stats = cluster.gateway.stats
    failed, dropped = stats.mirror_failed, stats.mirror_dropped
    spec = {"parentRefs": [{"name": "sandbox"}], "hostnames": ["down.local"],
            "rules": [{"backendRefs": [to("stable")],
                       "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "down",
                                                                                              "port": 8080}}}]}]}
    cluster.parents("mirror-down", cluster.route("mirror-down", spec))
    answers = cluster.get("down.local", count=50)
    assert {(status, text.split()[0]) for status, text in answers} == {(200, "stable")}
    wait_for(lambda: stats.mirror_failed - failed + stats.mirror_dropped - dropped == 50,
             "50 copies counted as failed (refused) or dropped")
    assert stats.mirror_failed > failed

    slow = cluster.backends["slow"]
    assert slow.hold is not None
    slow.hold.clear()
    dropped = stats.mirror_dropped
    spec = {"parentRefs": [{"name": "sandbox"}], "hostnames": ["slow.local"],
            "rules": [{"backendRefs": [to("stable")],
                       "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "slow",
                                                                                              "port": 8080}}}]}]}
    cluster.parents("mirror-slow", cluster.route("mirror-slow", spec))
    try:
        answers = cluster.get("slow.local", count=100)
        assert {(status, text.split()[0]) for status, text in answers} == {(200, "stable")}
        # Two workers held by the slow mirror and a queue of 64: the other copies were dropped.
        assert stats.mirror_dropped - dropped >= 100 - 2 - 64
    finally:
        slow.hold.set()


def test_statuses_say_what_is_wrong_and_other_gateways_routes_are_left_alone(cluster: Cluster) -> None:
    generation = cluster.route("broken", {"parentRefs": [{"name": "sandbox"}], "hostnames": ["broken.local"],
                                          "rules": [{"backendRefs": [to("nowhere")]}]})
    (parent,) = cluster.parents("broken", generation)
    refs = next(c for c in parent["conditions"] if c["type"] == "ResolvedRefs")
    assert (refs["status"], refs["reason"]) == ("False", "BackendNotFound")
    assert "default/nowhere not found" in refs["message"]
    ((status, _),) = cluster.get("broken.local")
    assert status == 500

    cluster.route("elsewhere", {"parentRefs": [{"name": "istio-gateway", "namespace": "istio-system"}],
                                "hostnames": ["elsewhere.local"], "rules": [{"backendRefs": [to("stable")]}]})
    cluster.parents("broken", cluster.route("broken", {"parentRefs": [{"name": "sandbox"}],
                                                       "hostnames": ["broken.local"],
                                                       "rules": [{"backendRefs": [to("stable")]}]}))
    # The rebuild that served generation 2 of "broken" saw "elsewhere" too: still nothing written there.
    assert (cluster.k8s.get(ROUTES, "HTTPRoute", "elsewhere").get("status") or {}).get("parents") in (None, [])
    ((status, text),) = cluster.get("elsewhere.local")
    assert status == 404
    assert "no HTTPRoute of Gateway default/sandbox" in text


def test_sandbox_up_prints_the_gateway_address_and_serves_routes_there(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "modelops.cli", "sandbox", "up", "--dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        gateway_line = next((line for line in lines if "gateway:" in line), "")
        assert gateway_line, "".join(lines)
        url = gateway_line.split("gateway:", 1)[1].split()[0]
        address = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        connection.request("GET", "/v2/health/ready", headers={"Host": "nothing.local"})
        answer = connection.getresponse()
        assert (answer.status, answer.read().decode().strip()) == (
            404, "no HTTPRoute of Gateway default/sandbox matches host 'nothing.local' and path '/v2/health/ready'")
        connection.close()
        kubectl = Path(sys.executable).with_name("kubectl")

        def address_shown() -> bool:
            shown = subprocess.run([str(kubectl), "--kubeconfig", str(tmp_path / "kubeconfig"), "get", "gateway",
                                    "sandbox", "-o", "jsonpath={.status.addresses[0].value}"],
                                   capture_output=True, text=True, check=True, timeout=30).stdout
            return shown == "127.0.0.1"

        wait_for(address_shown, "the Gateway's status.addresses in kubectl", timeout=30)
    finally:
        process.terminate()
        process.communicate(timeout=60)

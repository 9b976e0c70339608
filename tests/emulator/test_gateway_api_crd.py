"""The vendored Gateway API HTTPRoute CRD: served only once installed, and enforced like a cluster does."""

from __future__ import annotations

from typing import Any

import httpx

from modelops.emulator.testing import EmulatorHandle
from modelops.sandbox.crds import HTTPROUTES_CRD

ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"


def route(name: str = "iris", **rule: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "infra"}], "hostnames": ["iris.example.com"],
                     "rules": [{"backendRefs": [{"kind": "Service", "name": "iris-v1", "port": 8080, "weight": 80},
                                                {"kind": "Service", "name": "iris-v2", "port": 8080, "weight": 20}],
                                **rule}]}}


def mirror(**fields: Any) -> dict[str, Any]:
    return {"type": "RequestMirror",
            "requestMirror": {"backendRef": {"kind": "Service", "name": "iris-v2", "port": 8080}, **fields}}


def test_httproutes_are_not_served_until_the_crd_is_installed(api: httpx.Client, k8s: EmulatorHandle) -> None:
    # A cluster has no Gateway API unless someone installs its CRDs: the operator's
    # GatewayAPIMissing condition depends on the emulator telling the truth here.
    assert api.get("/apis/gateway.networking.k8s.io/v1").status_code == 404
    assert api.post(ROUTES, json=route()).status_code == 404
    k8s.apply_crds(HTTPROUTES_CRD)
    listed = {r["name"]: r for r in api.get("/apis/gateway.networking.k8s.io/v1").json()["resources"]}
    assert listed["httproutes"]["kind"] == "HTTPRoute"
    assert "httproutes/status" in listed


def test_a_weighted_route_with_a_mirror_is_accepted_with_the_crds_defaults(api: httpx.Client,
                                                                           k8s: EmulatorHandle) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    response = api.post(ROUTES, json=route(filters=[mirror(percent=10)]))
    assert response.status_code == 201, response.text
    spec = response.json()["spec"]
    assert spec["parentRefs"][0]["kind"] == "Gateway"  # defaults from the schema
    assert spec["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert spec["rules"][0]["filters"][0]["requestMirror"]["percent"] == 10


def test_the_crds_own_rules_refuse_bad_routes(api: httpx.Client, k8s: EmulatorHandle) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    both = api.post(ROUTES, json=route(filters=[mirror(percent=10, fraction={"numerator": 1})]))
    assert both.status_code == 422
    assert "Only one of percent or fraction may be specified" in both.json()["message"]
    no_port = route("noport")
    del no_port["spec"]["rules"][0]["backendRefs"][0]["port"]
    refused = api.post(ROUTES, json=no_port)
    assert refused.status_code == 422
    assert "Must have port for Service reference" in refused.json()["message"]
    over = route("over")
    over["spec"]["rules"][0]["backendRefs"][0]["weight"] = 1_000_001
    assert api.post(ROUTES, json=over).status_code == 422
    bad_path = route("badpath", matches=[{"path": {"type": "PathPrefix", "value": "/a b"}}])
    assert api.post(ROUTES, json=bad_path).status_code == 422

"""Our Gateway API HTTPRoute CRD (written from the v1.3.0 spec): served only once installed, and enforced
like a cluster does: each bad route is refused with a message naming its problem."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

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


def test_kubectl_get_shows_hostnames_and_age_and_status_takes_the_parents(api: httpx.Client,
                                                                          k8s: EmulatorHandle) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    api.post(ROUTES, json=route())
    table = api.get(ROUTES, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Hostnames", "Age"]
    assert table["rows"][0]["cells"][:2] == ["iris", '["iris.example.com"]']
    parent = {"parentRef": {"name": "gw", "namespace": "infra"}, "controllerName": "example.com/gateway",
              "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                              "lastTransitionTime": "2026-11-30T00:00:00Z"}]}
    merge = {"Content-Type": "application/merge-patch+json"}
    written = api.patch(f"{ROUTES}/iris/status", json={"status": {"parents": [parent]}}, headers=merge)
    assert written.status_code == 200, written.text
    assert written.json()["status"]["parents"][0]["parentRef"]["kind"] == "Gateway"  # defaulted like spec's
    bad = {**parent, "controllerName": "no-slash"}
    refused = api.patch(f"{ROUTES}/iris/status", json={"status": {"parents": [bad]}}, headers=merge)
    assert refused.status_code == 422
    assert "status.parents[0].controllerName" in refused.json()["message"]


def test_the_crds_own_rules_refuse_bad_routes(api: httpx.Client, k8s: EmulatorHandle) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    both = api.post(ROUTES, json=route(filters=[mirror(percent=10, fraction={"numerator": 1})]))
    assert both.status_code == 422
    assert "a requestMirror sets percent or fraction, not both" in both.json()["message"]
    no_port = route("noport")
    del no_port["spec"]["rules"][0]["backendRefs"][0]["port"]
    refused = api.post(ROUTES, json=no_port)
    assert refused.status_code == 422
    assert "a backend of kind Service (core group) needs a port" in refused.json()["message"]
    over = route("over")
    over["spec"]["rules"][0]["backendRefs"][0]["weight"] = 1_000_001
    assert api.post(ROUTES, json=over).status_code == 422
    bad_path = route("badpath", matches=[{"path": {"type": "PathPrefix", "value": "/a b"}}])
    assert api.post(ROUTES, json=bad_path).status_code == 422


def with_rule(**fields: Any) -> dict[str, Any]:
    """A route whose single rule has `fields` instead of its backendRefs."""
    bad = route("bad")
    bad["spec"]["rules"][0] = fields
    return bad


def header(name: str) -> dict[str, Any]:
    return {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": name, "value": "1"}]}}


REWRITE_PREFIX = {"type": "URLRewrite",
                  "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}}
REDIRECT = {"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}


def patched(change: Any) -> dict[str, Any]:
    bad = route("bad")
    change(bad["spec"])
    return bad


@pytest.mark.parametrize(("bad", "named"), [
    (patched(lambda s: s["rules"][0]["backendRefs"][0].update(weight=1_000_001)), "less than or equal to 1000000"),
    (patched(lambda s: s["rules"][0]["backendRefs"][0].update(port=0)), "greater than or equal to 1"),
    (patched(lambda s: s.update(hostnames=["Not_A_Host"])), "spec.hostnames[0]"),
    (patched(lambda s: s.update(parentRefs=[{"name": f"gw{i}"} for i in range(33)])), "at most 32 items"),
    (patched(lambda s: s.update(rules=[{} for _ in range(17)])), "at most 16 items"),
    (patched(lambda s: s["rules"][0].update(matches=[{} for _ in range(65)])), "at most 64 items"),
    (patched(lambda s: s["rules"][0]["backendRefs"].extend({"name": f"b{i}", "port": 80} for i in range(15))),
     "at most 16 items"),
    (patched(lambda s: s["rules"][0].update(filters=[mirror(percent=101)])), "less than or equal to 100"),
    (patched(lambda s: s["rules"][0].update(filters=[mirror(fraction={"numerator": 3, "denominator": 2})])),
     "fraction.numerator must not exceed fraction.denominator"),
    (patched(lambda s: s["parentRefs"].append({"name": "gw", "namespace": "infra", "sectionName": "http"})),
     "parentRefs naming the same parent must either all set sectionName or all leave it out"),
    (patched(lambda s: s["parentRefs"].append({"name": "gw", "namespace": "infra"})),
     "a parentRef (parent and sectionName) may be listed only once"),
    (with_rule(matches=[{"path": {"type": "Exact", "value": "v1/models"}}]),
     "an Exact or PathPrefix path must start with '/'"),
    (with_rule(matches=[{"path": {"type": "PathPrefix", "value": "/a/../b"}}]),
     "must not have empty, '.' or '..' segments"),
    (with_rule(filters=[{"type": "RequestMirror", "requestHeaderModifier": {"remove": ["x"]}}]),
     "type RequestMirror goes with requestMirror"),
    (with_rule(filters=[header("a"), header("b")]),
     "RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect and URLRewrite may each appear once"),
    (with_rule(filters=[REDIRECT, {"type": "URLRewrite", "urlRewrite": {"hostname": "a.example.com"}}]),
     "RequestRedirect and URLRewrite filters cannot be combined"),
    (with_rule(filters=[REDIRECT], backendRefs=[{"name": "iris-v1", "port": 8080}]),
     "must not have backendRefs"),
    (with_rule(matches=[{"path": {"type": "Exact", "value": "/v1"}}], filters=[REWRITE_PREFIX]),
     "replacePrefixMatch needs the rule to have exactly one match, and that of path type PathPrefix"),
    (with_rule(filters=[{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath"}}}]),
     "path.type names the one replacement to set"),
    (with_rule(timeouts={"request": "1s", "backendRequest": "2s"}),
     "timeouts.backendRequest must not be longer than timeouts.request"),
    (with_rule(timeouts={"request": "ten seconds"}), "spec.rules[0].timeouts.request"),
])
def test_each_rule_of_the_crd_refuses_a_bad_route_naming_the_problem(api: httpx.Client, k8s: EmulatorHandle,
                                                                     bad: dict[str, Any], named: str) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    refused = api.post(ROUTES, json=bad)
    assert refused.status_code == 422, refused.text
    assert named in refused.json()["message"]


@pytest.mark.parametrize("good", [
    with_rule(matches=[{"path": {"type": "PathPrefix", "value": "/v1"}}], filters=[REWRITE_PREFIX],
              backendRefs=[{"name": "iris-v1", "port": 8080}]),
    with_rule(filters=[REDIRECT]),
    with_rule(timeouts={"request": "0s", "backendRequest": "2s"}),  # 0s: no limit on the whole request
    with_rule(matches=[{"path": {"type": "RegularExpression", "value": "^/v[0-9]+//.*"}}]),  # not a URL path
    patched(lambda s: s.update(parentRefs=[{"name": "gw", "namespace": "infra", "sectionName": "http"},
                                           {"name": "gw", "namespace": "infra", "sectionName": "https"}])),
])
def test_the_rules_leave_routes_the_spec_allows_alone(api: httpx.Client, k8s: EmulatorHandle,
                                                       good: dict[str, Any]) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    response = api.post(ROUTES, json=good)
    assert response.status_code == 201, response.text

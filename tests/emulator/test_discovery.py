"""Discovery, CRD registration, OpenAPI v3, /version and health endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelops.emulator.testing import EmulatorHandle

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def resources(api: httpx.Client, path: str) -> dict[str, dict[str, Any]]:
    body = api.get(path).json()
    assert body["kind"] == "APIResourceList"
    return {r["name"]: r for r in body["resources"]}


def test_core_v1_lists_the_builtins_we_use(api: httpx.Client) -> None:
    assert api.get("/api").json()["versions"] == ["v1"]
    core = resources(api, "/api/v1")
    for name in ("namespaces", "pods", "services", "events", "configmaps", "secrets", "serviceaccounts"):
        assert name in core
    assert core["pods"]["shortNames"] == ["po"]
    assert core["namespaces"]["namespaced"] is False
    assert core["pods/status"]["verbs"] == ["get", "patch", "update"]


@pytest.mark.parametrize(("group_version", "plural"), [
    ("apps/v1", "deployments"), ("batch/v1", "jobs"), ("events.k8s.io/v1", "events"),
    ("coordination.k8s.io/v1", "leases"),
    ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
])
def test_groups_of_the_builtins_we_use(api: httpx.Client, group_version: str, plural: str) -> None:
    groups = {g["name"]: g for g in api.get("/apis").json()["groups"]}
    group, version = group_version.split("/")
    assert groups[group]["preferredVersion"]["version"] == version
    assert api.get(f"/apis/{group}").json()["name"] == group
    assert plural in resources(api, f"/apis/{group_version}")


def test_creating_a_crd_registers_its_names_and_subresources(api: httpx.Client) -> None:
    listed = resources(api, "/apis/test.modelops.dev/v1")
    entry = listed["widgets"]
    assert entry["kind"] == "Widget"
    assert entry["singularName"] == "widget"
    assert entry["shortNames"] == ["wd"]
    assert entry["categories"] == ["modelops"]
    assert entry["namespaced"] is True
    assert "watch" in entry["verbs"]
    status = listed["widgets/status"]
    assert "shortNames" not in status
    assert "categories" not in status


def test_a_crd_is_established_and_its_names_accepted(api: httpx.Client) -> None:
    crd = api.get(f"{CRDS}/widgets.test.modelops.dev").json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"


def test_deleting_a_crd_unregisters_it_and_its_objects(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post("/apis/test.modelops.dev/v1/namespaces/default/widgets",
             json={"apiVersion": "test.modelops.dev/v1", "kind": "Widget", "metadata": {"name": "w"},
                   "spec": {"size": 1}})
    assert api.delete(f"{CRDS}/widgets.test.modelops.dev").status_code == 200
    assert api.get("/apis/test.modelops.dev/v1").status_code == 404
    assert api.get("/apis/test.modelops.dev/v1/namespaces/default/widgets").status_code == 404
    assert "test.modelops.dev" not in {g["name"] for g in api.get("/apis").json()["groups"]}


def test_a_crd_named_wrongly_is_invalid(api: httpx.Client, widgets_crd: dict[str, Any]) -> None:
    widgets_crd["metadata"]["name"] = "gadgets.test.modelops.dev"
    response = api.post(CRDS, json=widgets_crd)
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_openapi_v3_serves_the_crd_schema_with_its_gvk(api: httpx.Client) -> None:
    index = api.get("/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/test.modelops.dev/v1"} <= set(index)
    document = api.get(index["apis/test.modelops.dev/v1"]["serverRelativeURL"]).json()
    schema = document["components"]["schemas"]["dev.modelops.test.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "test.modelops.dev", "version": "v1",
                                                          "kind": "Widget"}]
    assert schema["properties"]["spec"]["properties"]["size"]["maximum"] == 10
    patch = document["paths"]["/apis/test.modelops.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Widget"


def test_openapi_v2_is_not_served(api: httpx.Client) -> None:
    assert api.get("/openapi/v2").status_code == 404


def test_version_and_health(api: httpx.Client) -> None:
    version = api.get("/version").json()
    assert version["major"] == "1"
    assert "modelops" in version["gitVersion"]
    for path in ("/healthz", "/readyz", "/livez"):
        response = api.get(path)
        assert (response.status_code, response.text) == (200, "ok")


def test_unknown_paths_are_404_status(api: httpx.Client) -> None:
    response = api.get("/apis/nowhere.dev/v1/things")
    assert response.status_code == 404
    assert response.json()["kind"] == "Status"

"""The status subresource: /status writes only status, main writes ignore status."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.conftest import WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_status_given_on_create_is_dropped(api: httpx.Client) -> None:
    body = widget()
    body["status"] = {"phase": "Forged"}
    assert "status" not in api.post(WIDGETS, json=body).json()


def test_status_patch_changes_only_status(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.patch(f"{WIDGETS}/w1/status", json={"spec": {"size": 9}, "metadata": {"labels": {"a": "b"}},
                                                       "status": {"phase": "Ready"}}, headers=MERGE)
    body = response.json()
    assert body["status"] == {"phase": "Ready"}
    assert body["spec"]["size"] == 3
    assert "labels" not in body["metadata"]


def test_main_resource_patch_ignores_status(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    api.patch(f"{WIDGETS}/w1/status", json={"status": {"phase": "Ready"}}, headers=MERGE)
    body = api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 4}, "status": {"phase": "Forged"}}, headers=MERGE).json()
    assert body["spec"]["size"] == 4
    assert body["status"] == {"phase": "Ready"}


def test_status_put_keeps_spec(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    created["spec"]["size"] = 10
    created["status"] = {"phase": "Put"}
    body = api.put(f"{WIDGETS}/w1/status", json=created).json()
    assert (body["spec"]["size"], body["status"]) == (3, {"phase": "Put"})


@pytest.mark.parametrize(("path", "kind", "api_version"), [
    ("/apis/apps/v1/namespaces/default/deployments", "Deployment", "apps/v1"),
    ("/apis/batch/v1/namespaces/default/jobs", "Job", "batch/v1"),
    ("/api/v1/namespaces/default/pods", "Pod", "v1"),
])
def test_builtin_kinds_have_a_status_subresource(api: httpx.Client, path: str, kind: str, api_version: str) -> None:
    api.post(path, json={"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}})
    api.patch(f"{path}/x/status", json={"status": {"observedGeneration": 1}}, headers=MERGE)
    body = api.patch(f"{path}/x", json={"status": {"observedGeneration": 99}}, headers=MERGE).json()
    assert body["status"]["observedGeneration"] == 1


def test_status_of_a_kind_without_the_subresource_is_404(api: httpx.Client) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    api.post(path, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}})
    assert api.patch(f"{path}/c/status", json={"status": {}}, headers=MERGE).status_code == 404

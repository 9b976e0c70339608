"""Namespaces, finalizers and ownerReference garbage collection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.conftest import WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def owned(name: str, owner: dict[str, Any], path_kind: str = "Deployment") -> dict[str, Any]:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "apps/v1", "kind": path_kind, "metadata": {"name": name, "ownerReferences": [ref]},
            "spec": {"replicas": 1}}


def test_default_and_kube_system_namespaces_exist(api: httpx.Client) -> None:
    names = [n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]]
    assert {"default", "kube-system"} <= set(names)
    assert api.get("/api/v1/namespaces/default").json()["status"]["phase"] == "Active"


def test_objects_need_an_existing_namespace(api: httpx.Client) -> None:
    response = api.post("/apis/test.modelops.dev/v1/namespaces/missing/widgets", json=widget())
    assert response.status_code == 404
    assert response.json()["message"] == 'namespaces "missing" not found'


def test_deleting_a_namespace_deletes_its_objects(api: httpx.Client) -> None:
    api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}})
    api.post("/api/v1/namespaces/tmp/configmaps", json={"metadata": {"name": "c"}})
    api.delete("/api/v1/namespaces/tmp")
    assert api.get("/api/v1/namespaces/tmp/configmaps/c").status_code == 404
    assert api.get("/api/v1/namespaces/tmp").status_code == 404


def test_finalizers_hold_deletion_until_removed(api: httpx.Client) -> None:
    body = widget()
    body["metadata"]["finalizers"] = ["test/hold"]
    api.post(WIDGETS, json=body)
    deleting = api.delete(f"{WIDGETS}/w1").json()
    assert deleting["metadata"]["deletionTimestamp"]
    assert api.get(f"{WIDGETS}/w1").status_code == 200
    released = api.patch(f"{WIDGETS}/w1", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert released.status_code == 200
    assert api.get(f"{WIDGETS}/w1").status_code == 404


def test_no_new_finalizers_while_deleting(api: httpx.Client) -> None:
    body = widget()
    body["metadata"]["finalizers"] = ["test/hold"]
    api.post(WIDGETS, json=body)
    api.delete(f"{WIDGETS}/w1")
    response = api.patch(f"{WIDGETS}/w1", json={"metadata": {"finalizers": ["test/hold", "new"]}}, headers=MERGE)
    assert response.status_code == 422


@pytest.mark.parametrize("policy", [None, "Background", "Foreground"])
def test_deleting_an_owner_deletes_its_dependents(api: httpx.Client, policy: str | None) -> None:
    owner = api.post(WIDGETS, json=widget()).json()
    api.post(DEPLOYMENTS, json=owned("child", owner))
    params = {"propagationPolicy": policy} if policy else {}
    api.delete(f"{WIDGETS}/w1", params=params)
    assert api.get(f"{DEPLOYMENTS}/child").status_code == 404
    assert api.get(f"{WIDGETS}/w1").status_code == 404


def test_cascade_goes_down_several_levels(api: httpx.Client) -> None:
    owner = api.post(WIDGETS, json=widget()).json()
    child = api.post(DEPLOYMENTS, json=owned("child", owner)).json()
    api.post(DEPLOYMENTS, json=owned("grandchild", child))
    api.delete(f"{WIDGETS}/w1")
    assert api.get(f"{DEPLOYMENTS}/grandchild").status_code == 404


def test_foreground_waits_for_dependents_with_finalizers(api: httpx.Client) -> None:
    owner = api.post(WIDGETS, json=widget()).json()
    child = owned("child", owner)
    child["metadata"]["finalizers"] = ["test/hold"]
    api.post(DEPLOYMENTS, json=child)
    api.delete(f"{WIDGETS}/w1", params={"propagationPolicy": "Foreground"})
    waiting = api.get(f"{WIDGETS}/w1").json()
    assert "foregroundDeletion" in waiting["metadata"]["finalizers"]
    assert api.get(f"{DEPLOYMENTS}/child").json()["metadata"]["deletionTimestamp"]
    api.patch(f"{DEPLOYMENTS}/child", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert api.get(f"{DEPLOYMENTS}/child").status_code == 404
    assert api.get(f"{WIDGETS}/w1").status_code == 404


def test_orphan_keeps_dependents_and_drops_their_owner_reference(api: httpx.Client) -> None:
    owner = api.post(WIDGETS, json=widget()).json()
    api.post(DEPLOYMENTS, json=owned("child", owner))
    api.request("DELETE", f"{WIDGETS}/w1", json={"kind": "DeleteOptions", "apiVersion": "v1",
                                                  "propagationPolicy": "Orphan"})
    assert api.get(f"{WIDGETS}/w1").status_code == 404
    child = api.get(f"{DEPLOYMENTS}/child").json()
    assert "ownerReferences" not in child["metadata"]


def test_delete_preconditions(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.request("DELETE", f"{WIDGETS}/w1", json={"preconditions": {"uid": "someone-else"}})
    assert response.status_code == 409
    assert api.get(f"{WIDGETS}/w1").status_code == 200


def test_delete_collection_by_label(api: httpx.Client) -> None:
    for name, tier in (("a", "x"), ("b", "y")):
        api.post(CONFIGMAPS, json={"metadata": {"name": name, "labels": {"tier": tier}}})
    api.delete(CONFIGMAPS, params={"labelSelector": "tier=x"})
    assert [c["metadata"]["name"] for c in api.get(CONFIGMAPS).json()["items"]] == ["b"]

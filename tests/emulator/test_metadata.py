"""Server-set metadata, status codes and `Status` errors on create, update and delete."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.emulator.conftest import WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_create_answers_201_with_uid_timestamp_resource_version_and_generation(api: httpx.Client) -> None:
    response = api.post(WIDGETS, json=widget())
    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["resourceVersion"].isdigit()
    assert meta["generation"] == 1
    assert meta["namespace"] == "default"


def test_resource_version_increases_with_every_write(api: httpx.Client) -> None:
    first = api.post(WIDGETS, json=widget("a")).json()["metadata"]["resourceVersion"]
    second = api.post(WIDGETS, json=widget("b")).json()["metadata"]["resourceVersion"]
    third = api.patch(f"{WIDGETS}/a", json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE)
    assert int(first) < int(second) < int(third.json()["metadata"]["resourceVersion"])


def test_generation_moves_on_spec_changes_only(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    labelled = api.patch(f"{WIDGETS}/w1", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE).json()
    assert labelled["metadata"]["generation"] == 1
    status = api.patch(f"{WIDGETS}/w1/status", json={"status": {"phase": "Ok"}}, headers=MERGE).json()
    assert status["metadata"]["generation"] == 1
    resized = api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 4}}, headers=MERGE).json()
    assert resized["metadata"]["generation"] == 2


def test_a_no_op_patch_keeps_the_resource_version(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    same = api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 3}}, headers=MERGE).json()
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generation_of_builtin_kinds_follows_spec(api: httpx.Client) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    api.post(path, json={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                         "spec": {"replicas": 1}})
    annotated = api.patch(f"{path}/d", json={"metadata": {"annotations": {"a": "b"}}}, headers=MERGE).json()
    scaled = api.patch(f"{path}/d", json={"spec": {"replicas": 2}}, headers=MERGE).json()
    assert (annotated["metadata"]["generation"], scaled["metadata"]["generation"]) == (1, 2)


def test_creating_twice_is_409_already_exists(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.post(WIDGETS, json=widget())
    assert response.status_code == 409
    body = response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "AlreadyExists"
    assert body["code"] == 409
    assert body["message"] == 'widgets.test.modelops.dev "w1" already exists'


def test_missing_object_is_404_not_found(api: httpx.Client) -> None:
    response = api.get(f"{WIDGETS}/nope")
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"
    assert response.json()["details"] == {"name": "nope", "kind": "widgets", "group": "test.modelops.dev"}


def test_stale_resource_version_on_put_is_409_conflict(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 5}}, headers=MERGE)
    created["spec"]["size"] = 7
    response = api.put(f"{WIDGETS}/w1", json=created)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    assert "the object has been modified" in response.json()["message"]


def test_stale_resource_version_in_a_merge_patch_is_409_conflict(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    stale = created["metadata"]["resourceVersion"]
    api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 5}}, headers=MERGE)
    response = api.patch(f"{WIDGETS}/w1", json={"metadata": {"resourceVersion": stale}, "spec": {"size": 6}},
                         headers=MERGE)
    assert response.status_code == 409
    assert api.get(f"{WIDGETS}/w1").json()["spec"]["size"] == 5


def test_current_resource_version_precondition_passes(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    created["spec"]["size"] = 8
    response = api.put(f"{WIDGETS}/w1", json=created)
    assert response.status_code == 200
    assert response.json()["spec"]["size"] == 8


def test_failed_json_patch_test_is_422_not_500(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
           {"op": "replace", "path": "/spec/size", "value": 9}]
    response = api.patch(f"{WIDGETS}/w1", json=ops, headers=JSON_PATCH)
    assert response.status_code == 422
    assert response.json()["reason"] == "Invalid"
    assert api.get(f"{WIDGETS}/w1").json()["spec"]["size"] == 3


def test_server_metadata_cannot_be_overwritten_by_clients(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget()).json()
    forged = {"metadata": {"uid": "forged", "creationTimestamp": "2000-01-01T00:00:00Z"}}
    patched = api.patch(f"{WIDGETS}/w1", json=forged, headers=MERGE).json()
    assert patched["metadata"]["uid"] == created["metadata"]["uid"]
    assert patched["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_generate_name_makes_a_unique_name(api: httpx.Client) -> None:
    body = widget()
    body["metadata"] = {"generateName": "gen-"}
    names = {api.post(WIDGETS, json=body).json()["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    assert all(re.fullmatch(r"gen-[a-z0-9]{5}", name) for name in names)


def test_kind_mismatch_is_400(api: httpx.Client) -> None:
    body = widget()
    body["kind"] = "Gadget"
    response = api.post(WIDGETS, json=body)
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


def test_delete_returns_the_object_and_then_it_is_gone(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.delete(f"{WIDGETS}/w1")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "w1"
    assert api.get(f"{WIDGETS}/w1").status_code == 404
    assert api.delete(f"{WIDGETS}/w1").status_code == 404


def test_names_must_be_dns_names(api: httpx.Client) -> None:
    body = widget()
    body["metadata"] = {"name": "Not_A_Name"}
    response = api.post(WIDGETS, json=body)
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "metadata.name"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1-starts-with-a-digit"}, "spec": {}}
    assert api.post("/api/v1/namespaces/default/services", json=service).status_code == 422


def test_labels_must_be_valid(api: httpx.Client) -> None:
    body = widget()
    body["metadata"] = {"name": "w1", "labels": {"modelops.dev/version": "x" * 64}}
    response = api.post(WIDGETS, json=body)
    assert response.status_code == 422
    assert "no more than 63 characters" in response.json()["message"]
    body["metadata"]["labels"] = {"bad key!": "v"}
    assert api.post(WIDGETS, json=body).status_code == 422
    body["metadata"]["labels"] = {"modelops.dev/version": "churn-v2", "app.kubernetes.io/name": "modelops-serving"}
    assert api.post(WIDGETS, json=body).status_code == 201


@pytest.mark.parametrize(("metadata", "field"), [
    ({"name": 5}, "metadata.name"),
    ({"generateName": 5}, "metadata.generateName"),
    ({"name": "w1", "finalizers": "example.com/f"}, "metadata.finalizers"),
    ({"name": "w1", "ownerReferences": ["not-an-object"]}, "metadata.ownerReferences"),
    ({"name": "w1", "annotations": ["a"]}, "metadata.annotations"),
])
def test_metadata_of_the_wrong_type_is_422_naming_the_field(api: httpx.Client, metadata: dict[str, Any],
                                                             field: str) -> None:
    body = widget()
    body["metadata"] = metadata
    response = api.post(WIDGETS, json=body)
    assert response.status_code == 422, response.text
    assert [c["field"] for c in response.json()["details"]["causes"]] == [field]


def test_metadata_of_the_wrong_type_is_refused_on_update_too(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.patch(f"{WIDGETS}/w1", json={"metadata": {"ownerReferences": "x"}}, headers=MERGE)
    assert response.status_code == 422
    assert api.delete(f"{WIDGETS}/w1").status_code == 200  # deletes still look at owner references


def test_finalizers_of_the_wrong_type_on_an_object_being_deleted_are_422(api: httpx.Client) -> None:
    body = widget()
    body["metadata"]["finalizers"] = ["example.com/keep"]
    api.post(WIDGETS, json=body)
    api.delete(f"{WIDGETS}/w1")
    response = api.patch(f"{WIDGETS}/w1", json={"metadata": {"finalizers": 5}}, headers=MERGE)
    assert response.status_code == 422, response.text
    assert response.json()["details"]["causes"][0]["field"] == "metadata.finalizers"


def test_metadata_that_is_not_an_object_is_400(api: httpx.Client) -> None:
    body = widget()
    body["metadata"] = "w1"
    for response in (api.post(WIDGETS, json=body), api.put(f"{WIDGETS}/w1", json=body)):
        assert response.status_code == 400
        assert "metadata" in response.json()["message"]


def test_delete_preconditions_must_be_an_object(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.request("DELETE", f"{WIDGETS}/w1", json={"preconditions": "x"})
    assert response.status_code == 400
    assert "preconditions" in response.json()["message"]


@pytest.mark.parametrize("body", [
    b"k8s\x00\x0a\xff",  # a length that never ends
    b"k8s\x00\x0a\x03\x12\x01\xff",  # a kind that is not UTF-8
])
def test_a_malformed_protobuf_body_is_400(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/v1/namespaces", content=body,
                        headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert response.status_code == 400, response.text
    assert "protobuf" in response.json()["message"]

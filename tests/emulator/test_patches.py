"""Patch types by Content-Type, PUT/replace, and server-side apply creating what is absent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from modelops.emulator import patches
from modelops.emulator.errors import ApiError
from tests.emulator.conftest import WIDGETS, widget

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str = "d", containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "template": {"spec": {"containers": containers or [
                {"name": "main", "image": "a", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "side", "image": "b"}]}}}}


def test_merge_patch_merges_maps_and_null_deletes() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert patches.merge_patch(target, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}


def test_json_patch_operations() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    ops = [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b/c"},
           {"op": "replace", "path": "/a/0", "value": 0}, {"op": "copy", "from": "/a", "path": "/d"},
           {"op": "move", "from": "/d", "path": "/b/e"}, {"op": "test", "path": "/a/2", "value": 3}]
    assert patches.json_patch(doc, ops) == {"a": [0, 2, 3], "b": {"e": [0, 2, 3]}}


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/a", "value": 2}],
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/a/b", "value": 1}],
])
def test_json_patch_failures_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as error:
        patches.json_patch({"a": 1}, ops)
    assert error.value.code == 422


def test_strategic_merge_merges_containers_and_env_by_name() -> None:
    target = deployment()["spec"]
    patch = {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "9"}]}]}}}
    containers = patches.strategic_merge(target, patch)["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "side"]
    assert containers[0]["image"] == "a"
    assert containers[0]["env"] == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]


def test_strategic_merge_directives_are_applied_not_stored() -> None:
    target = deployment()["spec"]
    patch = {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "main"}],
        "containers": [{"name": "side", "$patch": "delete"}],
    }}}
    result = patches.strategic_merge(target, patch)
    assert [c["name"] for c in result["template"]["spec"]["containers"]] == ["main"]
    assert "$setElementOrder/containers" not in result["template"]["spec"]
    assert patches.strategic_merge({"m": {"a": 1, "b": 2}}, {"m": {"$retainKeys": ["a"], "a": 3}}) == {"m": {"a": 3}}
    assert patches.strategic_merge({"m": {"a": 1}}, {"m": {"$patch": "replace", "b": 2}}) == {"m": {"b": 2}}
    assert patches.strategic_merge({"f": ["x", "y"]}, {"$deleteFromPrimitiveList/f": ["x"]}) == {"f": ["y"]}


def test_conditions_merge_by_type() -> None:
    target = {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Stalled", "status": "False"}]}
    result = patches.strategic_merge(target, {"conditions": [{"type": "Ready", "status": "True"}]})
    assert result["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "False"}]


def test_content_type_selects_the_patch_type(api: httpx.Client) -> None:
    api.post(DEPLOYMENTS, json=deployment())
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "c"}]}}}}
    merged = api.patch(f"{DEPLOYMENTS}/d", json=smp,
                       headers={"Content-Type": "application/strategic-merge-patch+json"}).json()
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["main", "side"]
    replaced = api.patch(f"{DEPLOYMENTS}/d", json=smp, headers={"Content-Type": "application/merge-patch+json"}).json()
    assert [c["name"] for c in replaced["spec"]["template"]["spec"]["containers"]] == ["main"]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    patched = api.patch(f"{DEPLOYMENTS}/d", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert patched.json()["spec"]["replicas"] == 4


def test_strategic_merge_is_refused_for_custom_resources(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 2}},
                         headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


def test_unknown_patch_type_is_415(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    response = api.patch(f"{WIDGETS}/w1", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_server_side_apply_creates_when_absent_then_merges(api: httpx.Client) -> None:
    headers = {"Content-Type": "application/apply-patch+yaml"}
    body = yaml.safe_dump(widget("applied", color="blue"))
    created = api.patch(f"{WIDGETS}/applied?fieldManager=test&force=true", content=body, headers=headers)
    assert created.status_code == 201
    assert created.json()["spec"] == {"size": 3, "color": "blue"}
    again = api.patch(f"{WIDGETS}/applied?fieldManager=test", content=yaml.safe_dump(widget("applied", size=5)),
                      headers=headers)
    assert again.status_code == 200
    assert again.json()["spec"]["size"] == 5


def test_put_replaces_the_whole_object(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget(label="old")).json()
    created["spec"] = {"size": 2}
    replaced = api.put(f"{WIDGETS}/w1", json=created).json()
    assert replaced["spec"] == {"size": 2, "color": "red"}  # label gone, color defaulted again


def test_put_of_a_missing_object_is_404(api: httpx.Client) -> None:
    assert api.put(f"{WIDGETS}/nope", json=widget("nope")).status_code == 404


def test_put_with_another_name_is_400(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    assert api.put(f"{WIDGETS}/w1", json=widget("w2")).status_code == 400


def test_scale_subresource_reads_and_sets_replicas(api: httpx.Client) -> None:
    api.post(DEPLOYMENTS, json=deployment())
    scale = api.get(f"{DEPLOYMENTS}/d/scale").json()
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 1)
    api.patch(f"{DEPLOYMENTS}/d/scale", json={"spec": {"replicas": 3}},
              headers={"Content-Type": "application/merge-patch+json"})
    assert api.get(f"{DEPLOYMENTS}/d").json()["spec"]["replicas"] == 3


def test_malformed_patches_are_refused_naming_what_is_wrong(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    pointer = api.patch(f"{WIDGETS}/w1", json=[{"op": "add", "path": 5, "value": 1}],
                        headers={"Content-Type": "application/json-patch+json"})
    assert pointer.status_code == 422, pointer.text
    assert "JSON pointer 5" in pointer.json()["message"]
    metadata = api.patch(f"{WIDGETS}/w1", json={"metadata": 5},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert metadata.status_code == 400, metadata.text
    assert "metadata" in metadata.json()["message"]


@pytest.mark.parametrize("body", [{"spec": "3"}, {"spec": {"replicas": True}}, ["not", "a", "scale"]])
def test_a_malformed_scale_is_422_naming_spec_replicas(api: httpx.Client, body: object) -> None:
    api.post(DEPLOYMENTS, json=deployment())
    response = api.put(f"{DEPLOYMENTS}/d/scale", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["details"]["causes"][0]["field"] == "spec.replicas"


def test_apply_to_custom_resources_merges_lists_as_the_schema_says() -> None:
    schema = {"type": "object", "properties": {
        "keyed": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                  "items": {"type": "object"}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "atomic": {"type": "array", "items": {"type": "object"}},
    }}
    target = {"keyed": [{"type": "A", "v": 1}, {"type": "B", "v": 2}], "tags": ["x"], "atomic": [{"name": "a"}]}
    patch = {"keyed": [{"type": "B", "v": 3}], "tags": ["y"], "atomic": [{"name": "b"}]}
    result = patches.apply_patch(patches.APPLY_PATCH, target, patch, custom=True, schema=schema)
    assert result == {"keyed": [{"type": "A", "v": 1}, {"type": "B", "v": 3}], "tags": ["x", "y"],
                      "atomic": [{"name": "b"}]}

"""Lists: apiVersion, kind <Kind>List, resourceVersion, label and field selectors, paging."""

from __future__ import annotations

import httpx
import pytest

from modelops.emulator import selectors
from modelops.emulator.errors import ApiError
from tests.emulator.conftest import WIDGETS, widget


def labelled(name: str, **labels: str) -> dict[str, object]:
    body = widget(name)
    body["metadata"] = {"name": name, "labels": labels}
    return body


@pytest.fixture
def seeded(api: httpx.Client) -> httpx.Client:
    api.post(WIDGETS, json=labelled("a", tier="web", env="prod"))
    api.post(WIDGETS, json=labelled("b", tier="db", env="prod"))
    api.post(WIDGETS, json=labelled("c", tier="web"))
    return api


def names(api: httpx.Client, path: str = WIDGETS, **params: str) -> list[str]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["metadata"]["name"] for item in response.json()["items"]]


def test_list_has_api_version_kind_and_resource_version(seeded: httpx.Client) -> None:
    body = seeded.get(WIDGETS).json()
    assert body["apiVersion"] == "test.modelops.dev/v1"
    assert body["kind"] == "WidgetList"
    assert int(body["metadata"]["resourceVersion"]) >= max(int(i["metadata"]["resourceVersion"]) for i in body["items"])
    assert all(item["kind"] == "Widget" for item in body["items"])


@pytest.mark.parametrize(("selector", "expected"), [
    ("tier=web", ["a", "c"]),
    ("tier==web", ["a", "c"]),
    ("tier!=web", ["b"]),
    ("tier in (db, cache)", ["b"]),
    ("tier notin (db)", ["a", "c"]),
    ("env", ["a", "b"]),
    ("!env", ["c"]),
    ("tier=web,env=prod", ["a"]),
])
def test_label_selectors(seeded: httpx.Client, selector: str, expected: list[str]) -> None:
    assert names(seeded, labelSelector=selector) == expected


def test_field_selectors_on_name_and_namespace(seeded: httpx.Client) -> None:
    assert names(seeded, fieldSelector="metadata.name=b") == ["b"]
    assert names(seeded, fieldSelector="metadata.name!=b") == ["a", "c"]
    all_namespaces = "/apis/test.modelops.dev/v1/widgets"
    assert names(seeded, all_namespaces, fieldSelector="metadata.namespace=default") == ["a", "b", "c"]
    assert names(seeded, all_namespaces, fieldSelector="metadata.namespace=other") == []


def test_unsupported_field_selector_is_400(seeded: httpx.Client) -> None:
    response = seeded.get(WIDGETS, params={"fieldSelector": "spec.size=3"})
    assert response.status_code == 400
    assert "field label not supported" in response.json()["message"]


def test_bad_label_selector_raises() -> None:
    with pytest.raises(ApiError):
        selectors.label_selector("a in b")


def test_limit_and_continue_page_through_a_list(seeded: httpx.Client) -> None:
    first = seeded.get(WIDGETS, params={"limit": "2"}).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    token = first["metadata"]["continue"]
    rest = seeded.get(WIDGETS, params={"limit": "2", "continue": token}).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    assert "continue" not in rest["metadata"]


def test_cluster_wide_list_spans_namespaces(api: httpx.Client) -> None:
    api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    api.post(WIDGETS, json=widget("here"))
    api.post("/apis/test.modelops.dev/v1/namespaces/other/widgets", json=widget("there"))
    assert names(api, "/apis/test.modelops.dev/v1/widgets") == ["here", "there"]
    assert names(api) == ["here"]


def test_events_can_be_selected_by_involved_object(api: httpx.Client) -> None:
    path = "/api/v1/namespaces/default/events"
    for name, target in (("e1", "w1"), ("e2", "w2")):
        api.post(path, json={"metadata": {"name": name}, "reason": "Made", "type": "Normal",
                             "involvedObject": {"kind": "Widget", "name": target, "namespace": "default"}})
    selected = names(api, path, fieldSelector="involvedObject.name=w1,involvedObject.kind=Widget,type=Normal")
    assert selected == ["e1"]
    assert api.get(WIDGETS, params={"fieldSelector": "involvedObject.name=w1"}).status_code == 400


@pytest.mark.parametrize(("params", "named"), [
    ({"limit": "two"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"continue": "e30="}, "continue"),  # base64 of {}
    ({"continue": "WzFd"}, "continue"),  # base64 of [1]
    ({"watch": "true", "timeoutSeconds": "soon"}, "timeoutSeconds"),
])
def test_malformed_query_parameters_are_400_naming_them(seeded: httpx.Client, params: dict[str, str],
                                                        named: str) -> None:
    response = seeded.get(WIDGETS, params=params)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]

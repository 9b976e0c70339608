"""Server-side Table output: printer columns, JSONPath, ages, default columns."""

from __future__ import annotations

import httpx
import pytest

from modelops.emulator import tables
from tests.emulator.conftest import WIDGETS, widget

TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


def test_crd_printer_columns_are_rendered(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget(color="blue", size=7))
    api.patch(f"{WIDGETS}/w1/status", json={"status": {"conditions": [
        {"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]}},
        headers={"Content-Type": "application/merge-patch+json"})
    body = api.get(WIDGETS, headers=TABLE).json()
    assert body["kind"] == "Table"
    assert body["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Color", "Size", "Ready", "Age"]
    cells = body["rows"][0]["cells"]
    assert cells[:4] == ["w1", "blue", 7, "True"]
    assert cells[4].endswith("s")
    assert body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert body["rows"][0]["object"]["metadata"]["name"] == "w1"


def test_missing_values_are_empty_cells(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    cells = api.get(f"{WIDGETS}/w1", headers=TABLE).json()["rows"][0]["cells"]
    assert cells[3] is None


def test_builtin_kinds_get_name_and_age(api: httpx.Client) -> None:
    api.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    body = api.get("/api/v1/namespaces/default/configmaps", headers=TABLE).json()
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Age"]
    assert body["rows"][0]["cells"][0] == "c"


def test_include_object_returns_the_whole_object(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    body = api.get(WIDGETS, params={"includeObject": "Object"}, headers=TABLE).json()
    assert body["rows"][0]["object"]["spec"]["size"] == 3


def test_jsonpath_subset() -> None:
    obj = {"spec": {"steps": [{"weight": 10}, {"weight": 50}]},
           "status": {"conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "True"}]}}
    assert tables.jsonpath(obj, ".spec.steps[1].weight") == [50]
    assert tables.jsonpath(obj, ".spec.steps[*].weight") == [10, 50]
    assert tables.jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert tables.jsonpath(obj, "{.spec.missing}") == []


@pytest.mark.parametrize(("seconds", "shown"), [
    (5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
    (3 * 86400 + 3600, "3d1h"), (40 * 86400, "40d"), (3 * 365 * 86400, "3y0d"),
])
def test_ages_are_shown_as_the_api_server_does(seconds: int, shown: str) -> None:
    assert tables.human_duration(seconds) == shown

"""Lists by `labelSelector=k=v` are answered from a label index, and agree with a full scan."""

from __future__ import annotations

from typing import Any

from modelops.emulator import selectors
from modelops.emulator.testing import EmulatorHandle


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["metadata"]["name"] for i in items]


def listed(k8s: EmulatorHandle, selector: str, namespace: str | None = "default") -> list[str]:
    rt = k8s.resource("v1", "ConfigMap")
    indexed, _ = k8s.cluster.list(rt, namespace, selectors.label_selector(selector),
                                  labels=selectors.equalities(selector))
    scanned, _ = k8s.cluster.list(rt, namespace, selectors.label_selector(selector))
    assert names(indexed) == names(scanned)
    return names(indexed)


def test_equalities_are_the_equality_terms_only() -> None:
    assert selectors.equalities("a=1,b==2,c!=3,d in (x),!e") == [("a", "1"), ("b", "2")]
    assert selectors.equalities(None) == []


def test_the_index_follows_creates_label_changes_and_deletes(k8s: EmulatorHandle) -> None:
    k8s.create(cm("one", app="x", tier="web"))
    k8s.create(cm("two", app="x"))
    k8s.create(cm("three", app="y"))
    assert listed(k8s, "app=x") == ["one", "two"]
    assert listed(k8s, "app=x,tier=web") == ["one"]
    k8s.patch("v1", "ConfigMap", "two", {"metadata": {"labels": {"app": "y"}}})
    assert listed(k8s, "app=x") == ["one"]
    assert listed(k8s, "app=y") == ["three", "two"]
    k8s.delete("v1", "ConfigMap", "three")
    assert listed(k8s, "app=y") == ["two"]
    assert listed(k8s, "app=y,tier!=web") == ["two"]
    assert listed(k8s, "app=none") == []


def test_the_index_keeps_namespaces_apart(k8s: EmulatorHandle) -> None:
    k8s.create_namespace("other")
    k8s.create(cm("a", app="x"))
    k8s.create(cm("b", app="x"), namespace="other")
    assert listed(k8s, "app=x") == ["a"]
    assert listed(k8s, "app=x", namespace=None) == ["a", "b"]
    assert listed(k8s, "app=x", namespace="other") == ["b"]

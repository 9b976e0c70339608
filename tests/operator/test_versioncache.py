"""The ModelVersions a ModelDeployment reconcile reads come from the watch, not a list per reconcile."""

from __future__ import annotations

from typing import Any

from modelops.operator.versioncache import VersionCache


def mv(name: str, model: str, rv: int, namespace: str = "default", ready: str = "True") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(rv)},
            "spec": {"model": model}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def mdep(model: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "d", "namespace": namespace}, "spec": {"model": model, **spec}, "status": {}}


class Lister:
    def __init__(self, items: dict[str, list[dict[str, Any]]]) -> None:
        self.items = items
        self.calls: list[str] = []

    async def __call__(self, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(namespace)
        return self.items.get(namespace, [])


def names(bodies: list[dict[str, Any]]) -> list[str]:
    return sorted(b["metadata"]["name"] for b in bodies)


async def test_a_namespace_is_listed_once_then_read_from_the_watch() -> None:
    cache, lister = VersionCache(), Lister({"default": [mv("a-v1", "a", 1), mv("b-v1", "b", 2)]})
    assert names(await cache.for_deployment(mdep("a"), lister)) == ["a-v1"]
    cache.update("ADDED", mv("a-v2", "a", 3))
    assert names(await cache.for_deployment(mdep("a"), lister)) == ["a-v1", "a-v2"]
    assert lister.calls == ["default"]
    await cache.for_deployment(mdep("a", namespace="other"), lister)
    assert lister.calls == ["default", "other"]


async def test_a_version_named_by_the_deployment_is_seen_even_of_another_model() -> None:
    cache, lister = VersionCache(), Lister({"default": [mv("a-v1", "a", 1), mv("b-v1", "b", 2)]})
    assert names(await cache.for_deployment(mdep("a", version="b-v1"), lister)) == ["a-v1", "b-v1"]


async def test_deletes_remove_and_older_copies_do_not_overwrite() -> None:
    cache, lister = VersionCache(), Lister({})
    cache.update("ADDED", mv("a-v1", "a", 5, ready="True"))
    cache.update(None, mv("a-v1", "a", 4, ready="False"))  # a list older than the watch event
    [body] = await cache.for_deployment(mdep("a"), lister)
    assert body["status"]["conditions"][0]["status"] == "True"
    cache.update("DELETED", mv("a-v1", "a", 6))
    assert await cache.for_deployment(mdep("a"), lister) == []
    assert len(cache) == 0


async def test_a_version_whose_model_changed_moves_with_it() -> None:
    cache, lister = VersionCache(), Lister({})
    cache.update("ADDED", mv("x", "a", 1))
    cache.update("MODIFIED", mv("x", "b", 2))
    assert await cache.for_deployment(mdep("a"), lister) == []
    assert names(await cache.for_deployment(mdep("b"), lister)) == ["x"]

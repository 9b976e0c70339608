"""The ModelVersions a ModelDeployment's reconcile reads, from the watch instead of a list.

A ModelDeployment decides from the versions of its model (the newest Ready one, the pinned
one, its stable and candidate). Listing every ModelVersion of the namespace per reconcile
makes each reconcile cost O(versions) in requests' bytes and in parsing, so converging N
deployments costs O(N^2) (measured: benchmarks/operator). client-go's answer is an informer's
lister; this is that, for one kind:

- kopf's ModelVersion watch feeds ``update`` (the newer resourceVersion wins, DELETED removes);
- the first read in a namespace lists it once (``prime``), so a reconcile that runs before the
  watch delivered a namespace's versions still sees all of them — never a partial model;
- ``for_deployment`` returns the versions of the deployment's model plus any version its spec
  or status names (a pinned version of another model must still be seen to be refused).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

Body = dict[str, Any]
Lister = Callable[[str], Awaitable[list[Body]]]


def _names_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _names_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _names_in(item)


def looked_at(body: Mapping[str, Any]) -> bool:
    """Whether the object's status has observed its generation (the operator has looked at it)."""
    return (body.get("status") or {}).get("observedGeneration") == (body.get("metadata") or {}).get("generation")


def _version(body: Mapping[str, Any]) -> int:
    raw = str((body.get("metadata") or {}).get("resourceVersion") or "0")
    return int(raw) if raw.isdigit() else 0


class VersionCache:
    def __init__(self) -> None:
        self._by_name: dict[tuple[str, str], Body] = {}
        self._by_model: dict[tuple[str, str], dict[str, Body]] = {}
        self._primed: set[str] = set()

    def update(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        old = self._by_name.get((namespace, name))
        if event_type == "DELETED":
            if old is not None:
                self._forget(namespace, name, old)
            return
        if old is not None and _version(old) > _version(body):
            return  # an older copy (a list that raced a watch event)
        if old is not None:
            self._forget(namespace, name, old)
        copy: Body = {"metadata": dict(meta), "spec": body.get("spec") or {}, "status": body.get("status") or {}}
        self._by_name[(namespace, name)] = copy
        self._by_model.setdefault((namespace, _model(copy)), {})[name] = copy

    def _forget(self, namespace: str, name: str, old: Body) -> None:
        self._by_name.pop((namespace, name), None)
        of_model = self._by_model.get((namespace, _model(old)))
        if of_model is not None:
            of_model.pop(name, None)
            if not of_model:
                del self._by_model[(namespace, _model(old))]

    async def for_deployment(self, deployment: Mapping[str, Any], lister: Lister) -> list[Body]:
        namespace = str((deployment.get("metadata") or {}).get("namespace"))
        if namespace not in self._primed:
            for item in await lister(namespace):
                self.update(None, item)
            self._primed.add(namespace)
        model = str((deployment.get("spec") or {}).get("model", ""))
        found = dict(self._by_model.get((namespace, model), {}))
        for text in _names_in([deployment.get("spec"), deployment.get("status")]):
            other = self._by_name.get((namespace, text))
            if other is not None:
                found.setdefault(text, other)
        return list(found.values())

    def unobserved(self, namespace: str, model: str) -> list[str]:
        """The model's versions whose status has not yet observed their generation (never looked at)."""
        return sorted(name for name, body in self._by_model.get((namespace, model), {}).items() if not looked_at(body))

    def __len__(self) -> int:
        return len(self._by_name)


def _model(body: Mapping[str, Any]) -> str:
    return str((body.get("spec") or {}).get("model", ""))

"""What a ModelDeployment reconcile sees: its ModelVersions and its children, as plain values.

Built from the raw API objects by pure functions, so the reconciler's tests can describe a
cluster in a few lines without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelops.api.modelversion import ModelVersionSpec
from modelops.conditions import find
from modelops.operator.modeldeployment.children import VERSION_LABEL, ServedVersion
from modelops.operator.ownership import controller_uid, describe_conflict


@dataclass(frozen=True)
class Version:
    """One observed ModelVersion."""

    name: str
    model: str
    created: str
    ready: bool
    reason: str
    message: str
    served: ServedVersion | None
    uid: str = ""


def version_from_object(obj: Mapping[str, Any]) -> Version:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    name = str(meta.get("name", ""))
    uid = str(meta.get("uid", ""))
    raw_spec = obj.get("spec") or {}
    try:
        spec = ModelVersionSpec.model_validate(raw_spec)
    except ValidationError:
        return Version(name, str(raw_spec.get("model", "")), str(meta.get("creationTimestamp", "")), False,
                       "InvalidSpec", f"ModelVersion {name} has an invalid spec", None, uid)
    ready = find(status.get("conditions"), "Ready")
    # A Ready condition about an older generation says nothing about this spec.
    current = ready is not None and ready.get("observedGeneration", meta.get("generation")) == meta.get("generation")
    is_ready = current and ready is not None and ready.get("status") == "True"
    if ready is None or not current:
        reason, message = "Pending", f"ModelVersion {name} has not been verified yet"
    else:
        reason, message = str(ready.get("reason", "")), str(ready.get("message", ""))
    served = ServedVersion(
        name=name,
        uri=spec.artifact.uri,
        sha256=spec.artifact.sha256,
        format=spec.artifact.format,
        trusted=spec.artifact.trusted,
        allow_version_skew=spec.allow_version_skew,
        uid=uid,
    )
    return Version(name, spec.model, str(meta.get("creationTimestamp", "")), is_ready, reason, message, served, uid)


@dataclass(frozen=True)
class Child:
    """One observed child (Deployment, Service or HTTPRoute) of the ModelDeployment."""

    kind: str
    name: str
    version: str
    owned: bool
    replicas: int = 0
    available: int = 0
    current: bool = True  # the Deployment controller has observed the latest spec
    uid: str = ""  # a precondition of its deletion
    body: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def child_from_object(obj: Mapping[str, Any], owner_uid: str) -> Child:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    # Ours only with our controller reference: labels can be copied by anyone.
    owned = controller_uid(obj) == owner_uid
    observed = status.get("observedGeneration")
    return Child(
        kind=str(obj.get("kind", "")),
        name=str(meta.get("name", "")),
        version=str((meta.get("labels") or {}).get(VERSION_LABEL, "")),
        owned=owned,
        replicas=int(spec.get("replicas", 1) or 0) if obj.get("kind") == "Deployment" else 0,
        available=int(status.get("availableReplicas") or 0),
        current=observed is None or int(observed) >= int(meta.get("generation", 0) or 0),
        uid=str(meta.get("uid", "")),
        body=obj,
    )


@dataclass(frozen=True)
class Observed:
    """Everything one reconcile reads, besides the ModelDeployment itself."""

    versions: Mapping[str, Version] = field(default_factory=dict)
    deployments: Mapping[str, Child] = field(default_factory=dict)
    services: Mapping[str, Child] = field(default_factory=dict)
    # (kind, name) -> message: objects of a child's name that are not ours (NameConflict).
    conflicts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # router GatewayAPI: our HTTPRoutes, and whether the cluster serves the kind at all
    routes: Mapping[str, Child] = field(default_factory=dict)
    httproutes_served: bool = True

    @classmethod
    def from_objects(
        cls,
        owner_uid: str,
        versions: Iterable[Mapping[str, Any]] = (),
        deployments: Iterable[Mapping[str, Any]] = (),
        services: Iterable[Mapping[str, Any]] = (),
        others: Iterable[Mapping[str, Any]] = (),
        *,
        routes: Iterable[Mapping[str, Any]] = (),
        httproutes_served: bool = True,
    ) -> Observed:
        """``others``: objects found under a child's name that the label selector did not list;
        ``routes``: HTTPRoutes under a child's name (ours or not), where the kind is served."""
        vs = (version_from_object(v) for v in versions)
        others = list(others)
        ds = [child_from_object(d, owner_uid) for d in [*deployments, *_of_kind(others, "Deployment")]]
        ss = [child_from_object(s, owner_uid) for s in [*services, *_of_kind(others, "Service")]]
        rs = [child_from_object({**r, "kind": "HTTPRoute"}, owner_uid)
              for r in [*routes, *_of_kind(others, "HTTPRoute")]]
        conflicts = {}
        for child in (*ds, *ss, *rs):
            if not child.owned:
                conflicts[(child.kind, child.name)] = describe_conflict(child.body)
        return cls(
            {v.name: v for v in vs},
            {d.name: d for d in ds if d.owned},
            {s.name: s for s in ss if s.owned},
            conflicts,
            {r.name: r for r in rs if r.owned},
            httproutes_served,
        )

    def newest_ready(self, model: str) -> Version | None:
        """The newest Ready version of ``model`` by creation time (name breaks ties)."""
        ready = [v for v in self.versions.values() if v.model == model and v.ready]
        return max(ready, key=lambda v: (v.created, v.name), default=None)

    def not_ready(self, model: str) -> list[Version]:
        """Versions of ``model`` newer than the newest Ready one that are not Ready (failed
        verification or validation, or still being checked): never rolled out."""
        newest = self.newest_ready(model)
        floor = (newest.created, newest.name) if newest is not None else ("", "")
        return sorted((v for v in self.versions.values()
                       if v.model == model and not v.ready and (v.created, v.name) > floor),
                      key=lambda v: (v.created, v.name))


def _of_kind(objects: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]

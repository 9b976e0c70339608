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


def version_from_object(obj: Mapping[str, Any]) -> Version:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    name = str(meta.get("name", ""))
    raw_spec = obj.get("spec") or {}
    try:
        spec = ModelVersionSpec.model_validate(raw_spec)
    except ValidationError:
        return Version(name, str(raw_spec.get("model", "")), str(meta.get("creationTimestamp", "")), False,
                       "InvalidSpec", f"ModelVersion {name} has an invalid spec", None)
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
    )
    return Version(name, spec.model, str(meta.get("creationTimestamp", "")), is_ready, reason, message, served)


@dataclass(frozen=True)
class Child:
    """One observed child (Deployment or Service) of the ModelDeployment."""

    kind: str
    name: str
    version: str
    owned: bool
    replicas: int = 0
    available: int = 0
    current: bool = True  # the Deployment controller has observed the latest spec
    body: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def child_from_object(obj: Mapping[str, Any], owner_uid: str) -> Child:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    owned = any(ref.get("uid") == owner_uid for ref in meta.get("ownerReferences") or ())
    observed = status.get("observedGeneration")
    return Child(
        kind=str(obj.get("kind", "")),
        name=str(meta.get("name", "")),
        version=str((meta.get("labels") or {}).get(VERSION_LABEL, "")),
        owned=owned,
        replicas=int(spec.get("replicas", 1) or 0) if obj.get("kind") == "Deployment" else 0,
        available=int(status.get("availableReplicas") or 0),
        current=observed is None or int(observed) >= int(meta.get("generation", 0) or 0),
        body=obj,
    )


@dataclass(frozen=True)
class Observed:
    """Everything one reconcile reads, besides the ModelDeployment itself."""

    versions: Mapping[str, Version] = field(default_factory=dict)
    deployments: Mapping[str, Child] = field(default_factory=dict)
    services: Mapping[str, Child] = field(default_factory=dict)

    @classmethod
    def from_objects(
        cls,
        owner_uid: str,
        versions: Iterable[Mapping[str, Any]] = (),
        deployments: Iterable[Mapping[str, Any]] = (),
        services: Iterable[Mapping[str, Any]] = (),
    ) -> Observed:
        vs = (version_from_object(v) for v in versions)
        ds = (child_from_object(d, owner_uid) for d in deployments)
        ss = (child_from_object(s, owner_uid) for s in services)
        return cls({v.name: v for v in vs}, {d.name: d for d in ds}, {s.name: s for s in ss})

    def newest_ready(self, model: str) -> Version | None:
        """The newest Ready version of ``model`` by creation time (name breaks ties)."""
        ready = [v for v in self.versions.values() if v.model == model and v.ready]
        return max(ready, key=lambda v: (v.created, v.name), default=None)

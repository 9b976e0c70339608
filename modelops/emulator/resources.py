"""The resource types the emulator serves: built-in kinds we use, plus kinds from CRDs.

A `ResourceType` is one (group, version, plural) as discovery shows it. Objects are stored
per (group, plural), so every served version of a CRD reads the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # "status" makes /status the only way to write status; "scale" is listed in discovery.
    subresources: tuple[str, ...] = ()
    # For custom resources: the version's openAPIV3Schema, printer columns and CEL rules.
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    custom: bool = False
    # For built-in kinds only: a rough shape for /openapi and `kubectl explain`.
    description: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status_subresource(self) -> bool:
        return "status" in self.subresources

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _builtin(group: str, version: str, plural: str, kind: str, *, namespaced: bool = True,
             short: tuple[str, ...] = (), categories: tuple[str, ...] = (),
             subresources: tuple[str, ...] = (), description: str = "") -> ResourceType:
    return ResourceType(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced,
                        short_names=short, categories=categories, subresources=subresources,
                        description=description)


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), subresources=("status",),
             description="Namespace provides a scope for Names."),
    _builtin("", "v1", "nodes", "Node", namespaced=False, short=("no",), subresources=("status",),
             description="Node is a worker node in Kubernetes."),
    _builtin("", "v1", "pods", "Pod", short=("po",), categories=("all",), subresources=("status",),
             description="Pod is a collection of containers that can run on a host."),
    _builtin("", "v1", "services", "Service", short=("svc",), categories=("all",), subresources=("status",),
             description="Service is a named abstraction of software service."),
    _builtin("", "v1", "events", "Event", short=("ev",), description="Event is a report of an event somewhere."),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",), description="ConfigMap holds configuration data."),
    _builtin("", "v1", "secrets", "Secret", description="Secret holds secret data of a certain type."),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",),
             description="ServiceAccount binds together a name, a principal and a set of secrets."),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",),
             description="Endpoints is a collection of endpoints that implement the actual service."),
    _builtin("apps", "v1", "deployments", "Deployment", short=("deploy",), categories=("all",),
             subresources=("status", "scale"),
             description="Deployment enables declarative updates for Pods and ReplicaSets."),
    _builtin("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), categories=("all",),
             subresources=("status", "scale"),
             description="ReplicaSet ensures that a specified number of pod replicas are running."),
    _builtin("batch", "v1", "jobs", "Job", categories=("all",), subresources=("status",),
             description="Job represents the configuration of a single job."),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",),
             description="Event is a report of an event somewhere in the cluster."),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", description="Lease defines a lease concept."),
    _builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), subresources=("status",),
             description="PodDisruptionBudget is an object to define the max disruption that can be caused "
             "to a collection of pods."),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role",
             description="Role is a namespaced, logical grouping of PolicyRules."),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding",
             description="RoleBinding references a role and the subjects it applies to."),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False,
             description="ClusterRole is a cluster level, logical grouping of PolicyRules."),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False,
             description="ClusterRoleBinding references a ClusterRole and the subjects it applies to."),
    _builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
             namespaced=False, short=("crd", "crds"), subresources=("status",),
             description="CustomResourceDefinition represents a resource that should be exposed on the API server."),
)

CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result: list[ResourceType] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = tuple(sorted(version.get("subresources", {}) or {}))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(ResourceType(
            group=spec["group"],
            version=version["name"],
            plural=names["plural"],
            kind=names["kind"],
            singular=names.get("singular", names["kind"].lower()),
            short_names=tuple(names.get("shortNames", [])),
            categories=tuple(names.get("categories", [])),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            subresources=subresources,
            schema=schema,
            printer_columns=tuple(version.get("additionalPrinterColumns", [])),
            custom=True,
        ))
    return result


class Registry:
    """Which resource types are served right now: the built-ins plus every established CRD."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._by_crd: dict[str, list[ResourceType]] = {}
        for rt in BUILTINS:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, in registration order; the first version is the preferred one."""
        result: dict[str, list[str]] = {}
        for rt in list(self._types.values()):  # a snapshot: CRDs may be registered meanwhile
            versions = result.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in list(self._types.values()) if rt.group == group and rt.version == version]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in list(self._types.values()):
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        name = crd["metadata"]["name"]
        self.unregister_crd(name)
        types = types_from_crd(crd)
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        self._by_crd[name] = types
        return types

    def unregister_crd(self, name: str) -> None:
        for rt in self._by_crd.pop(name, []):
            self._types.pop((rt.group, rt.version, rt.plural), None)

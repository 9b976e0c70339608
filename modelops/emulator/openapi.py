"""OpenAPI v3 documents per group-version, built from the served types.

kubectl needs them for three things: `kubectl explain` (the kind's schema, found by its
`x-kubernetes-group-version-kind`), server-side field validation (it checks that PATCH
operations accept `fieldValidation` before sending `fieldValidation=Strict`, and falls
back to downloading the protobuf v2 document otherwise), and apply (for built-in kinds
it computes strategic merge patches from its compiled-in types when the document does
not offer the strategic-merge content type, which is what we want: our schemas of
built-in kinds are rough). Custom resources get their CRD's openAPIV3Schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from modelops.emulator.resources import Registry, ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"



def _prop(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


_STRING_MAP = {"additionalProperties": {"type": "string"}}
_OPEN_OBJECTS = {"items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
_OBJECT_META_SCHEMA: dict[str, Any] = {
    "description": "ObjectMeta is metadata that all persisted resources must have.",
    "type": "object",
    "properties": {
        "name": _prop("string", "Name must be unique within a namespace."),
        "generateName": _prop("string", "An optional prefix used to generate a unique name."),
        "namespace": _prop("string", "Namespace defines the space within which the name must be unique."),
        "uid": _prop("string", "UID is the unique in time and space value for this object."),
        "resourceVersion": _prop("string", "An opaque value that represents the internal version of this object."),
        "generation": _prop("integer", "A sequence number of the desired state.", format="int64"),
        "creationTimestamp": _prop("string", "The server time when this object was created.", format="date-time"),
        "deletionTimestamp": _prop("string", "The time after which this object will be deleted.", format="date-time"),
        "labels": _prop("object", "Map of string keys and values to organize and categorize objects.", **_STRING_MAP),
        "annotations": _prop("object", "Unstructured key value map stored with a resource.", **_STRING_MAP),
        "finalizers": _prop("array", "Must be empty before the object is deleted.", items={"type": "string"}),
        "ownerReferences": _prop("array", "List of objects depended by this object.", **_OPEN_OBJECTS),
        "managedFields": _prop("array", "Which fields are managed by which workflow.", **_OPEN_OBJECTS),
    },
}

_BUILTIN_PREFIX = {
    "": "io.k8s.api.core", "apps": "io.k8s.api.apps", "batch": "io.k8s.api.batch",
    "events.k8s.io": "io.k8s.api.events", "coordination.k8s.io": "io.k8s.api.coordination",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac", "policy": "io.k8s.api.policy",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "gateway.networking.k8s.io": "io.k8s.networking.gateway",
}
_TOP_LEVEL_FIELDS = {
    "ConfigMap": ("data", "binaryData", "immutable"), "Secret": ("data", "stringData", "type", "immutable"),
    "ServiceAccount": ("secrets", "imagePullSecrets"), "Role": ("rules",), "ClusterRole": ("rules",),
    "RoleBinding": ("roleRef", "subjects"), "ClusterRoleBinding": ("roleRef", "subjects"),
    "Endpoints": ("subsets",),
}


def definition_name(rt: ResourceType) -> str:
    if not rt.custom and rt.group in _BUILTIN_PREFIX:
        return f"{_BUILTIN_PREFIX[rt.group]}.{rt.version}.{rt.kind}"
    reversed_group = ".".join(reversed(rt.group.split(".")))
    return f"{reversed_group}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _kind_schema(rt: ResourceType) -> dict[str, Any]:
    meta_ref = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
                "description": "Standard object's metadata."}
    base: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                       "representation of an object."},
        "kind": {"type": "string", "description": "Kind is a string value representing the REST resource "
                 "this object represents."},
    }
    if rt.custom and rt.schema is not None:
        schema = copy.deepcopy(rt.schema)
        properties = schema.setdefault("properties", {})
        for key, value in base.items():
            properties.setdefault(key, value)
        properties["metadata"] = meta_ref
        schema.setdefault("type", "object")
    else:
        fields = _TOP_LEVEL_FIELDS.get(rt.kind, ("spec", "status"))
        properties = {**base, "metadata": meta_ref}
        for name in fields:
            properties[name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                "description": f"{name} of the {rt.kind}."}
        schema = {"type": "object", "description": rt.description, "properties": properties}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def _parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string"}}


def _operation(rt: ResourceType, action: str, ref: str, *, body: tuple[str, ...] = ()) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}},
    }
    if body:
        operation["parameters"] = [
            _parameter("dryRun", "When present, indicates that modifications should not be persisted."),
            _parameter("fieldManager", "A name associated with the actor or entity making these changes."),
            _parameter("fieldValidation", "How the server treats unknown or duplicate fields: Ignore, Warn "
                       "or Strict."),
        ]
        operation["requestBody"] = {"content": {t: {"schema": {"$ref": ref}} for t in body}}
    return operation


def _paths(rt: ResourceType) -> dict[str, Any]:
    prefix = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    collection = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    ref = f"#/components/schemas/{definition_name(rt)}"
    paths: dict[str, Any] = {
        collection: {"get": _operation(rt, "list", ref),
                     "post": _operation(rt, "post", ref, body=("application/json",))},
        f"{collection}/{{name}}": {
            "get": _operation(rt, "get", ref),
            "put": _operation(rt, "put", ref, body=("application/json",)),
            "patch": _operation(rt, "patch", ref, body=_PATCH_TYPES),
            "delete": _operation(rt, "delete", ref),
        },
    }
    if rt.has_status_subresource:
        paths[f"{collection}/{{name}}/status"] = {
            "get": _operation(rt, "get", ref),
            "put": _operation(rt, "put", ref, body=("application/json",)),
            "patch": _operation(rt, "patch", ref, body=_PATCH_TYPES),
        }
    return paths


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {OBJECT_META: _OBJECT_META_SCHEMA}
    for rt in types:
        paths.update(_paths(rt))
        schemas[definition_name(rt)] = _kind_schema(rt)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:64].upper()


def index(registry: Registry) -> dict[str, Any]:
    """The /openapi/v3 root: one entry per group-version, with a content hash for caching."""
    paths: dict[str, Any] = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            document = group_version_document(registry, group, version)
            if document is not None:
                url = f"/openapi/v3/{_gv_path(group, version)}?hash={_digest(document)}"
                paths[_gv_path(group, version)] = {"serverRelativeURL": url}
    return {"paths": paths}

"""CustomResourceDefinitions generated from the pydantic models.

pydantic emits JSON Schema with ``$ref``/``$defs``, ``anyOf`` for optionals and titles;
the API server wants a *structural* schema: every node typed, no references, no
``anyOf`` tricks. This module turns one into the other, node by node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from modelops.api.resources import KINDS, ResourceKind

JsonSchema = dict[str, Any]

# Keywords of JSON Schema that a structural CRD schema accepts and we keep.
_KEPT = {
    "type", "format", "description", "enum", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
    "items", "properties", "required", "additionalProperties", "nullable", "x-kubernetes-validations",
}


class SchemaError(ValueError):
    """A model whose JSON Schema cannot be expressed as a structural CRD schema."""


def structural(schema: JsonSchema) -> JsonSchema:
    """The structural openAPIV3 schema of a pydantic model's JSON Schema."""
    defs: Mapping[str, JsonSchema] = schema.get("$defs", {})
    return _convert(schema, defs, path="")


def _resolve(node: JsonSchema, defs: Mapping[str, JsonSchema]) -> JsonSchema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, defs)


def _convert(node: JsonSchema, defs: Mapping[str, JsonSchema], path: str) -> JsonSchema:
    node = _resolve(node, defs)
    branches = node.get("anyOf") or node.get("oneOf")
    if branches is not None:
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        options = [_resolve(b, defs) for b in branches if b.get("type") != "null"]
        types = sorted(o.get("type", "") for o in options)
        if len(options) == 1:
            return _convert({**options[0], **rest}, defs, path)
        if types == ["integer", "string"]:
            # As controller-gen writes resource.Quantity: the string's pattern beside the flag
            # (a pattern applies to strings only, so integers pass untouched).
            text = next(o for o in options if o.get("type") == "string")
            out: JsonSchema = {"x-kubernetes-int-or-string": True}
            for key in ("description", "pattern", "maxLength"):
                if key in rest or key in text:
                    out[key] = rest.get(key, text.get(key))
            return out
        raise SchemaError(f"{path or '<root>'}: union of {types} has no structural form")

    out = {k: v for k, v in node.items() if k in _KEPT}
    # JSON Schema 2020 (pydantic) writes exclusive bounds as numbers; OpenAPI v3.0, which
    # CRDs use, as a boolean beside minimum/maximum.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(exclusive), (int, float)) and not isinstance(out[exclusive], bool):
            out[bound] = out.pop(exclusive)
            out[exclusive] = True
    kind = node.get("type")
    if kind is None:
        # Any: an embedded object the user owns (a Job template, estimator params).
        out["type"] = "object"
        out["x-kubernetes-preserve-unknown-fields"] = True
        return out
    if kind == "object":
        props = node.get("properties")
        if props is not None:
            out["properties"] = {
                name: _convert(sub, defs, f"{path}.{name}") for name, sub in props.items()
            }
            if node.get("required"):
                out["required"] = list(node["required"])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = _convert(extra, defs, f"{path}.*")
        elif props is None:
            out["x-kubernetes-preserve-unknown-fields"] = True
            out.pop("additionalProperties", None)
        else:
            out.pop("additionalProperties", None)
    elif kind == "array":
        out["items"] = _convert(node.get("items", {}), defs, f"{path}[]")
    return out


def _model_schema(model: Any) -> JsonSchema:
    return structural(model.model_json_schema(by_alias=True, mode="validation"))


def crd(kind: ResourceKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    spec_schema = _model_schema(kind.spec)
    spec_schema["description"] = (kind.spec.__doc__ or "").strip() or f"Desired state of the {kind.kind}."
    if kind.immutable_spec:
        spec_schema["x-kubernetes-validations"] = [
            {"rule": "self == oldSelf", "message": f"{kind.kind} spec is immutable: create a new {kind.kind}"}
        ]
    status_schema = _model_schema(kind.status)
    status_schema["description"] = f"Observed state of the {kind.kind}, written by the operator."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "modelops", "app.kubernetes.io/part-of": "modelops"},
        },
        "spec": {
            "group": kind.group,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": c.name,
                            "type": c.type,
                            "jsonPath": c.json_path,
                            **({"description": c.description} if c.description else {}),
                            **({"priority": c.priority} if c.priority else {}),
                        }
                        for c in kind.columns
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": _kind_doc(kind),
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                            "required": ["spec"],
                            **_name_rules(kind),
                        }
                    },
                }
            ],
        },
    }


def _name_rules(kind: ResourceKind) -> JsonSchema:
    """CEL on ``metadata.name`` (the only metadata a CRD's rules may read besides generateName),
    so that the API server refuses a name the operator could not build children from."""
    if kind.name_rule is None:
        return {}
    return {"x-kubernetes-validations": [{"rule": kind.name_rule.rule, "message": kind.name_rule.message}]}


def _kind_doc(kind: ResourceKind) -> str:
    import importlib

    module = importlib.import_module(kind.spec.__module__)
    return (module.__doc__ or kind.kind).strip()


def file_name(kind: ResourceKind) -> str:
    return f"{kind.group}_{kind.plural}.yaml"


def render(kind: ResourceKind) -> str:
    header = "# Generated by `modelops crds` from modelops/api; do not edit by hand.\n"
    return header + yaml.safe_dump(crd(kind), sort_keys=False, width=100)


def render_all() -> dict[str, str]:
    """File name -> YAML text for every kind."""
    return {file_name(k): render(k) for k in KINDS}

"""Structural-schema handling of custom resources: defaulting, pruning, validation.

What the API server does on every create and update of a custom resource, in its order:
unknown fields are pruned (or reported, with `fieldValidation=Strict`), `default`s are
filled in, then the object is validated against the openAPIV3Schema and the
`x-kubernetes-validations` rules. Errors name the field path and use the API server's
wording, so a user sees the same message as on a cluster.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from modelops.emulator import rules

_ROOT_PASSTHROUGH = ("apiVersion", "kind", "metadata")
# The string formats the API server checks that CRDs commonly declare (RFC 3339 times, UUIDs).
_FORMATS = {
    "date-time": re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)"),
    "date": re.compile(r"\d{4}-\d\d-\d\d"),
    "uuid": re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
}
_MISSING = object()


@dataclass
class Findings:
    """The problems found in one object: 422 causes, and unknown fields (pruned or rejected)."""

    causes: list[tuple[str, str, str]] = field(default_factory=list)  # (reason, path, message)
    unknown: list[str] = field(default_factory=list)

    def add(self, reason: str, path: str, message: str) -> None:
        self.causes.append((reason, path, message))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return f'"{_type_name(value)}"'
    return str(value)


def _matches_type(schema: dict[str, Any], value: Any) -> bool:
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    if expected is None:
        return True
    actual = _type_name(value)
    if expected == "number":
        return actual in ("number", "integer")
    return bool(actual == expected)


def default_and_prune(schema: dict[str, Any], value: Any, path: str, findings: Findings, *, root: bool = False) -> Any:
    """Return a copy of `value` with defaults filled in and unknown fields removed."""
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        properties: dict[str, Any] = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        result: dict[str, Any] = {}
        for key, item in value.items():
            child_path = f"{path}.{key}" if path else key
            if root and key in _ROOT_PASSTHROUGH:
                result[key] = item
            elif key in properties:
                result[key] = default_and_prune(properties[key], item, child_path, findings)
            elif isinstance(additional, dict):
                result[key] = default_and_prune(additional, item, child_path, findings)
            elif preserve or additional is True:
                result[key] = item
            else:
                findings.unknown.append(child_path)
        for key, child in properties.items():
            if key not in result and "default" in child:
                result[key] = copy.deepcopy(child["default"])
                result[key] = default_and_prune(child, result[key], f"{path}.{key}" if path else key, findings)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [default_and_prune(schema["items"], item, f"{path}[{i}]", findings) for i, item in enumerate(value)]
    return value


def validate(schema: dict[str, Any], value: Any, old: Any, path: str, findings: Findings, *,
             root: bool = False) -> None:
    """Check `value` against `schema`; `old` is the previous value at this path (or _MISSING)."""
    where = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            findings.add("FieldValueTypeInvalid", where,
                         f"Invalid value: \"null\": {where} in body must be of type "
                         f"{schema.get('type', 'object')}: \"null\"")
        return
    if not _matches_type(schema, value):
        expected = "integer-or-string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        findings.add("FieldValueTypeInvalid", where,
                     f"Invalid value: {_shown(value)}: {where} in body must be of type {expected}: {_shown(value)}")
        return
    _check_scalar(schema, value, where, findings)
    if isinstance(value, dict):
        _check_object(schema, value, old, path, findings, root=root)
    elif isinstance(value, list):
        _check_array(schema, value, old, path, findings)
    for rule in schema.get("x-kubernetes-validations", []):
        _check_rule(rule, value, old, where, findings)


def _check_scalar(schema: dict[str, Any], value: Any, where: str, findings: Findings) -> None:
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_shown(v) for v in schema["enum"])
        findings.add("FieldValueNotSupported", where,
                     f"Unsupported value: {_shown(value)}: supported values: {supported}")
    if isinstance(value, str):
        checker = _FORMATS.get(schema.get("format", ""))
        if checker is not None and not checker.fullmatch(value):
            findings.add("FieldValueTypeInvalid", where,
                         f"Invalid value: {_shown(value)}: {where} in body must be of type {schema['format']}: "
                         f"{_shown(value)}")
        pattern = schema.get("pattern")
        if pattern is not None and not re.search(pattern, value):
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {_shown(value)}: {where} in body should match '{pattern}'")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            findings.add("FieldValueTooLong", where, f"Too long: may not be more than {schema['maxLength']} bytes")
        if "minLength" in schema and len(value) < schema["minLength"]:
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {_shown(value)}: {where} in body should be at least "
                         f"{schema['minLength']} chars long")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, where, findings)


def _check_number(schema: dict[str, Any], value: float, where: str, findings: Findings) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {value}: {where} in body should be greater than {minimum}")
        elif value < minimum:
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {value}: {where} in body should be greater than or equal to {minimum}")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {value}: {where} in body should be less than {maximum}")
        elif value > maximum:
            findings.add("FieldValueInvalid", where,
                         f"Invalid value: {value}: {where} in body should be less than or equal to {maximum}")
    multiple = schema.get("multipleOf")
    if multiple and (value / multiple) != int(value / multiple):
        findings.add("FieldValueInvalid", where,
                     f"Invalid value: {value}: {where} in body should be a multiple of {multiple}")


def _check_object(schema: dict[str, Any], value: dict[str, Any], old: Any, path: str, findings: Findings, *,
                  root: bool) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            findings.add("FieldValueRequired", f"{path}.{name}" if path else name, "Required value")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        findings.add("FieldValueTooMany", path or "<root>",
                     f"Too many: {len(value)}: must have at most {schema['maxProperties']} items")
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        findings.add("FieldValueInvalid", path or "<root>",
                     f"Invalid value: {len(value)}: {path} in body should have at least "
                     f"{schema['minProperties']} properties")
    additional = schema.get("additionalProperties")
    old_map = old if isinstance(old, dict) else {}
    for key, item in value.items():
        if root and key in _ROOT_PASSTHROUGH:
            continue
        child = properties.get(key, additional if isinstance(additional, dict) else None)
        if child is not None:
            validate(child, item, old_map.get(key, _MISSING), f"{path}.{key}" if path else key, findings)


def _check_array(schema: dict[str, Any], value: list[Any], old: Any, path: str, findings: Findings) -> None:
    where = path or "<root>"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        findings.add("FieldValueTooMany", where,
                     f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
    if "minItems" in schema and len(value) < schema["minItems"]:
        findings.add("FieldValueInvalid", where,
                     f"Invalid value: {len(value)}: {where} in body should have at least {schema['minItems']} items")
    items = schema.get("items")
    if isinstance(items, dict):
        # Old values of list items are matched by position only for atomic lists of scalars;
        # transition rules on list items are rare and are checked without an oldSelf here.
        for i, item in enumerate(value):
            validate(items, item, _MISSING, f"{path}[{i}]", findings)


def _check_rule(rule: dict[str, Any], value: Any, old: Any, where: str, findings: Findings) -> None:
    expression = rule.get("rule", "")
    uses_old = "oldSelf" in expression
    if uses_old and old is _MISSING:
        return  # transition rules apply to updates only, when the field existed before
    try:
        ok = rules.evaluate(expression, value, old if uses_old else None)
    except rules.RuleError as error:
        findings.add("FieldValueInvalid", where, f"Invalid value: {_shown(value)}: rule {expression!r} failed: {error}")
        return
    if not ok:
        message = rule.get("message") or f"failed rule: {expression}"
        field_path = rule.get("fieldPath")
        target = f"{where}{field_path}" if field_path else where
        reason = rule.get("reason", "FieldValueInvalid")
        findings.add(reason, target, f"Invalid value: {_shown(value)}: {message}")


def check(schema: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None) -> tuple[dict[str, Any], Findings]:
    """Prune, default and validate a whole custom resource. Returns the object to store."""
    findings = Findings()
    cleaned = default_and_prune(schema, obj, "", findings, root=True)
    validate(schema, cleaned, old if old is not None else _MISSING, "", findings, root=True)
    return cleaned, findings

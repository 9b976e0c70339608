"""The four ways to change an object: JSON merge patch, JSON patch, strategic merge, apply.

Strategic merge is an approximation of what the API server does for built-in kinds: maps
merge, lists of objects merge by their merge key (`name` for containers, env, ports,
volumes; `mountPath` for volume mounts; `type` for conditions), other lists are replaced.
The directives kubectl sends (`$patch`, `$retainKeys`, `$setElementOrder/…`,
`$deleteFromPrimitiveList/…`) are honoured rather than stored as keys.
"""

from __future__ import annotations

import copy
from typing import Any

from modelops.emulator.errors import ApiError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Lists merged element-wise by a key, as the built-in types' patchMergeKey tags say.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("name", "containerPort", "port"),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise _patch_error(f"invalid JSON pointer {pointer!r}: it must be a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _patch_error(f'invalid JSON pointer "{pointer}": it must start with "/"')
    return [_unescape(part) for part in pointer[1:].split("/")]


def _patch_error(message: str) -> ApiError:
    # The API server answers 422 when a JSON patch cannot be applied (a failed `test`, a
    # missing path): the request is well-formed, the object just does not match it. kopf
    # relies on this to tell a lost race from a server failure.
    return ApiError(422, "Invalid", message)


def _resolve(doc: Any, parts: list[str], pointer: str) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                raise _patch_error(f'the path "{pointer}" does not exist: no key "{part}"')
            node = node[part]
        elif isinstance(node, list):
            index = _index(node, part, pointer, allow_end=False)
            node = node[index]
        else:
            raise _patch_error(f'the path "{pointer}" does not exist: "{part}" is inside a scalar')
    return node


def _index(node: list[Any], part: str, pointer: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(node)
    if not part.isdigit():
        raise _patch_error(f'the path "{pointer}" has a non-numeric list index "{part}"')
    index = int(part)
    limit = len(node) if allow_end else len(node) - 1
    if index > limit:
        raise _patch_error(f'the path "{pointer}" is out of range: index {index}, list length {len(node)}')
    return index


def _add(doc: Any, parts: list[str], value: Any, pointer: str) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent = _resolve(doc, parts[:-1], pointer)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, pointer, allow_end=True), copy.deepcopy(value))
    else:
        raise _patch_error(f'the path "{pointer}" does not exist: its parent is a scalar')
    return doc


def _remove(doc: Any, parts: list[str], pointer: str) -> Any:
    if not parts:
        raise _patch_error("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], pointer)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _patch_error(f'the path "{pointer}" does not exist: no key "{last}"')
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, pointer, allow_end=False)]
    else:
        raise _patch_error(f'the path "{pointer}" does not exist: its parent is a scalar')
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902. A failed `test` or a missing path raises 422 Invalid, as the API server does."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"JSON patch operation #{number} needs 'op' and 'path': {op!r}")
        kind, pointer = op["op"], op["path"]
        parts = _split_pointer(pointer)
        if kind == "add":
            doc = _add(doc, parts, op.get("value"), pointer)
        elif kind == "remove":
            doc = _remove(doc, parts, pointer)
        elif kind == "replace":
            _resolve(doc, parts, pointer)
            doc = _remove(doc, parts, pointer) if parts else doc
            doc = _add(doc, parts, op.get("value"), pointer)
        elif kind in ("move", "copy"):
            source = op.get("from", "")
            from_parts = _split_pointer(source)
            value = copy.deepcopy(_resolve(doc, from_parts, source))
            if kind == "move":
                doc = _remove(doc, from_parts, source)
            doc = _add(doc, parts, value, pointer)
        elif kind == "test":
            actual = _resolve(doc, parts, pointer)
            if actual != op.get("value"):
                raise _patch_error(
                    f'the JSON patch test failed at "{pointer}": expected {op.get("value")!r}, found {actual!r}'
                )
        else:
            raise bad_request(f'unknown JSON patch operation "{kind}" in operation #{number}')
    return doc


def _merge_key(field_name: str, items: list[Any]) -> str | None:
    candidates = _MERGE_KEYS.get(field_name, ())
    for key in candidates:
        if items and all(isinstance(item, dict) and key in item for item in items):
            return key
    return None


def strategic_merge(target: Any, patch: Any, field_name: str = "") -> Any:
    """Apply a strategic merge patch (an approximation of the built-in kinds' rules)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(body)
    result = dict(target) if isinstance(target, dict) else {}
    retain = body.pop("$retainKeys", None)
    for key, value in body.items():
        if key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [item for item in result[name] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], field_name: str) -> list[Any]:
    key = _merge_key(field_name, patch)
    if key is None or not isinstance(current, list):
        return [_strip_directives(item) for item in patch if not _is_delete(item)]
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            continue
        index = next((i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]),
                     None)
        if _is_delete(item):
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge(result[index], item, field_name)
    return result


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def schema_merge(target: Any, patch: Any, schema: dict[str, Any] | None) -> Any:
    """Server-side apply for custom resources: lists merge as their schema says.

    `x-kubernetes-list-type: map` lists merge by `x-kubernetes-list-map-keys`, `set` lists
    take the union, other lists are atomic (replaced), as structured-merge-diff does.
    """
    schema = schema or {}
    if isinstance(patch, list) and isinstance(target, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys", [])
        if list_type == "map" and keys:
            result = [copy.deepcopy(item) for item in target]
            for item in patch:
                key = tuple(item.get(k) for k in keys) if isinstance(item, dict) else None
                index = next((i for i, old in enumerate(result)
                              if isinstance(old, dict) and tuple(old.get(k) for k in keys) == key), None)
                if index is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[index] = schema_merge(result[index], item, items)
            return result
        if list_type == "set":
            return [copy.deepcopy(v) for v in target] + [copy.deepcopy(v) for v in patch if v not in target]
        return copy.deepcopy(patch)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
            continue
        child = properties.get(key, additional if isinstance(additional, dict) else None)
        merged[key] = schema_merge(merged.get(key), value, child)
    return merged


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, *, custom: bool,
                schema: dict[str, Any] | None = None) -> Any:
    """Dispatch on the request's Content-Type, as the API server does."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        return json_patch(target, patch)
    if media == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        return merge_patch(target, patch)
    if media == STRATEGIC_MERGE_PATCH:
        if custom:
            raise ApiError(415, "UnsupportedMediaType",
                           "strategic merge patch is not supported for custom resources; "
                           "use application/merge-patch+json")
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        return strategic_merge(target, patch)
    if media == APPLY_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("an apply patch must be a YAML or JSON object")
        # Server-side apply without field managers: the applied configuration is merged in,
        # lists merge by key (the schema's list-map keys for custom resources, the built-in
        # kinds' merge keys otherwise). Ownership conflicts are never reported.
        if custom:
            return schema_merge(target, patch, schema)
        return strategic_merge(target, patch)
    raise ApiError(
        415, "UnsupportedMediaType",
        f'the patch content type "{content_type}" is not supported; use {JSON_PATCH}, {MERGE_PATCH}, '
        f"{STRATEGIC_MERGE_PATCH} or {APPLY_PATCH}",
    )

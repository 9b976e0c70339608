"""Just enough of Kubernetes' protobuf encoding to accept what kubectl's typed clients send.

kubectl's built-in commands (`kubectl create namespace`, `create configmap`, `create
secret`) send `application/vnd.kubernetes.protobuf` and do not retry in JSON on 415. The
body is the magic `k8s\\0` followed by a runtime.Unknown {typeMeta, raw}; `raw` is the
object. We decode ObjectMeta for every kind, and the data fields of the few kinds those
commands create; other kinds answer 415 naming the way out (`kubectl apply -f`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from modelops.emulator.errors import ApiError

MAGIC = b"k8s\x00"
Fields = list[tuple[int, int, Any]]  # (field number, wire type, value)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Walk a protobuf message: yields (number, wire type, int or bytes)."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == 2:
            length, position = _varint(data, position)
            yield number, wire, data[position:position + length]
            position += length
        elif wire == 1:
            yield number, wire, data[position:position + 8]
            position += 8
        elif wire == 5:
            yield number, wire, data[position:position + 4]
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _string_map_entry(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, item in fields(data):
        if number == 1:
            key = item.decode()
        elif number == 2:
            value = item
    return key, value


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace"}
    for number, _, value in fields(data):
        if number in names:
            if value:  # proto2 sends unset strings as empty ones
                meta[names[number]] = value.decode()
        elif number in (11, 12):
            key, item = _string_map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(value.decode())
    return meta


def _namespace(raw: Fields) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in raw:
        if number == 2:  # NamespaceSpec {finalizers = 1}
            finalizers = [v.decode() for n, _, v in fields(value) if n == 1]
            if finalizers:
                obj["spec"] = {"finalizers": finalizers}
    return obj


def _config_map(raw: Fields) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in raw:
        if number == 2:
            key, item = _string_map_entry(value)
            obj.setdefault("data", {})[key] = item.decode()
        elif number == 3:
            key, item = _string_map_entry(value)
            obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
        elif number == 4:
            obj["immutable"] = bool(value)
    return obj


def _secret(raw: Fields) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, _, value in raw:
        if number == 2:
            key, item = _string_map_entry(value)
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
        elif number == 3:
            obj["type"] = value.decode()
        elif number == 4:
            key, item = _string_map_entry(value)
            obj.setdefault("stringData", {})[key] = item.decode()
        elif number == 5:
            obj["immutable"] = bool(value)
    return obj


_KINDS: dict[str, Callable[[Fields], dict[str, Any]]] = {
    "Namespace": _namespace, "ConfigMap": _config_map, "Secret": _secret,
}


def decode(body: bytes) -> dict[str, Any]:
    """Decode a protobuf-encoded object of a supported kind into its JSON form."""
    if not body.startswith(MAGIC):
        raise ApiError(415, "UnsupportedMediaType", "the protobuf body lacks the k8s envelope")
    try:
        return _decode(body)
    except (IndexError, ValueError, AttributeError) as error:  # truncated, bad UTF-8, a number for a string
        raise ApiError(400, "BadRequest", f"the protobuf body is malformed: {error}") from None


def _decode(body: bytes) -> dict[str, Any]:
    api_version = kind = ""
    raw = b""
    for number, _, value in fields(body[len(MAGIC):]):
        if number == 1:
            for n, _, v in fields(value):
                if n == 1:
                    api_version = v.decode()
                elif n == 2:
                    kind = v.decode()
        elif number == 2:
            raw = value
    if kind not in _KINDS:
        raise ApiError(415, "UnsupportedMediaType",
                       f"this emulator decodes protobuf only for {', '.join(_KINDS)}, not {kind or 'this body'}; "
                       "send JSON instead (e.g. `kubectl apply -f` a manifest)")
    raw_fields = list(fields(raw))
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    for number, _, value in raw_fields:
        if number == 1:
            obj["metadata"] = _object_meta(value)
    obj.update(_KINDS[kind](raw_fields))
    return obj

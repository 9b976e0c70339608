"""Hand-made skops files carrying gadgets: objects of allowed-looking types whose rebuild or
free has side effects (the schema JSON inside a real model's zip, edited as an attacker would)."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from typing import Any

_ids = itertools.count(1)


def json_node(value: object) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True, "__id__": next(_ids)}


def dict_node(content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    str_type = {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": next(_ids)}
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": content,
            "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                          "content": [dict(str_type) for _ in content], "__id__": next(_ids)},
            "__id__": next(_ids)}


def object_node(module: str, name: str, attrs: dict[str, object]) -> dict[str, Any]:
    """An ObjectNode: skops imports ``module``, takes ``name``, makes an instance without
    calling __init__ and sets its __dict__ (or calls __setstate__) from ``attrs``."""
    return {"__class__": name, "__module__": module, "__loader__": "ObjectNode",
            "content": dict_node({k: json_node(v) for k, v in attrs.items()}), "__id__": next(_ids)}


def reduce_node(module: str, name: str, *args: object) -> dict[str, Any]:
    """A ConstructorFromReduceNode: skops calls ``module.name(*args)``."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [json_node(a) for a in args], "__id__": next(_ids)},
            "__id__": next(_ids)}


def with_attribute(model_file: bytes, name: str, node: dict[str, Any]) -> bytes:
    """The skops file ``model_file`` (a fitted estimator) with one more attribute on the
    estimator, ``name``, rebuilt from ``node``: the model still loads and predicts."""
    with zipfile.ZipFile(io.BytesIO(model_file)) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(entries["schema.json"])
    state = schema["content"]
    assert state["__loader__"] == "DictNode", "expected an estimator's attribute dict"
    state["content"][name] = node
    state["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": next(_ids)}
    )
    entries["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for filename, data in entries.items():
            archive.writestr(filename, data)
    return out.getvalue()

"""Server-side printing: `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`.

kubectl asks for tables on `get` and prints the cells as they come, so a CRD's
`additionalPrinterColumns` (a simple JSONPath each) are evaluated here, dates rendered as
ages the way the API server does. Built-in kinds print Kubernetes' own columns
(`printers.py`); other kinds without printer columns get NAME and AGE.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from modelops.emulator import printers
from modelops.emulator.resources import ResourceType

_STEP_RE = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-]+)
       |\[(?P<index>-?\d+|\*)\]
       |\[\?\(@\.(?P<key>[A-Za-z0-9_.\-]+)\s*==\s*(?P<quote>["'])(?P<value>.*?)(?P=quote)\)\]""",
    re.VERBOSE,
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate a printer-column JSONPath (`.a.b`, `[0]`, `[*]`, `[?(@.k=="v")]`)."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    values = [obj]
    position = 0
    while position < len(text):
        match = _STEP_RE.match(text, position)
        if not match:
            raise ValueError(f"unsupported JSONPath {path!r} at {text[position:]!r}")
        position = match.end()
        values = _step(values, match)
    return values


def _step(values: list[Any], match: re.Match[str]) -> list[Any]:
    result: list[Any] = []
    for value in values:
        if match.group("field") is not None:
            if isinstance(value, dict) and match.group("field") in value:
                result.append(value[match.group("field")])
        elif match.group("index") is not None:
            if isinstance(value, list):
                if match.group("index") == "*":
                    result.extend(value)
                else:
                    index = int(match.group("index"))
                    if -len(value) <= index < len(value):
                        result.append(value[index])
        elif isinstance(value, list):
            keys = match.group("key").split(".")
            for item in value:
                found: Any = item
                for key in keys:
                    found = found.get(key) if isinstance(found, dict) else None
                if found is not None and str(found) == match.group("value"):
                    result.append(item)
    return result


def human_duration(seconds: float) -> str:
    """The API server's duration.HumanDuration, as shown in AGE columns."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return f"{hours // 24 // 365}y{hours // 24 % 365}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime.datetime | None = None) -> str:
    if not isinstance(timestamp, str):
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    now = now or datetime.datetime.now(datetime.UTC)
    return human_duration((now - then).total_seconds())


def _cell(column: dict[str, Any], obj: dict[str, Any]) -> Any:
    try:
        found = jsonpath(obj, column.get("jsonPath", ""))
    except ValueError:
        return None
    if not found:
        return None
    value = found[0]
    kind = column.get("type", "string")
    if kind == "date":
        return age(value)
    if kind in ("integer", "number", "boolean") and isinstance(value, int | float | bool):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace."}
_AGE_COLUMN = {"name": "Age", "type": "string", "format": "", "priority": 0,
               "description": "CreationTimestamp is the server time when this object was created."}


def _definition(column: dict[str, Any]) -> dict[str, Any]:
    return {"name": column["name"], "type": column.get("type", "string"), "format": column.get("format", ""),
            "description": column.get("description", ""), "priority": column.get("priority", 0)}


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(rt: ResourceType, objects: list[dict[str, Any]], resource_version: str, *,
          include_object: str = "Metadata", continue_token: str = "") -> dict[str, Any]:
    """Render objects of one type as a meta.k8s.io/v1 Table."""
    rows: list[dict[str, Any]] = []
    if rt.printer_columns:
        definitions = [_NAME_COLUMN] + [_definition(c) for c in rt.printer_columns]
        for obj in objects:
            cells = [obj.get("metadata", {}).get("name")] + [_cell(c, obj) for c in rt.printer_columns]
            rows.append(_row(cells, obj, include_object))
    elif rt.storage_key in printers.PRINTERS:
        columns, render = printers.PRINTERS[rt.storage_key]
        definitions = [_NAME_COLUMN if (name, priority) == ("Name", 0) else
                       {"name": name, "type": kind, "format": "", "description": "", "priority": priority}
                       for name, kind, priority in columns]
        rows.extend(_row(render(obj), obj, include_object) for obj in objects)
    else:
        definitions = [_NAME_COLUMN, _AGE_COLUMN]
        for obj in objects:
            meta = obj.get("metadata", {})
            rows.append(_row([meta.get("name"), age(meta.get("creationTimestamp"))], obj, include_object))
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": rows}


def _row(cells: list[Any], obj: dict[str, Any], include: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": cells}
    partial = _row_object(obj, include)
    if partial is not None:
        row["object"] = partial
    return row


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in accept.split(","))

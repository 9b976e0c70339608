"""The values reconcilers return: what to change in the cluster, decided without touching it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

EventType = Literal["Normal", "Warning"]
ACTION_ANNOTATION = "modelops.dev/action"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post about the reconciled object."""

    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """One reconcile's decisions: children to create or update, children to delete, the new
    status (written with one patch), Events, and when to look again."""

    status: Mapping[str, Any]
    apply: tuple[Mapping[str, Any], ...] = ()
    # (kind, name, uid): the uid is a precondition of the delete, so only the very object that
    # was observed as ours goes, never one that took its name in between.
    delete: tuple[tuple[str, str, str], ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    remove_action: bool = False
    # Transient failure: look again with exponential backoff (the condition says so).
    retry: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``old`` status into ``new``: changed keys, and null for keys
    that ``new`` drops. Empty when nothing changed, so an idle reconcile writes nothing (a
    write would wake the watchers, which would reconcile again: a hot loop)."""
    old = old or {}
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new and old[k] is not None})
    return patch


def describe_validation_error(error: ValidationError, prefix: str = "spec") -> str:
    """One line naming the first invalid field (by its camelCase name) and what is wrong."""
    problems = error.errors()
    first = problems[0]
    path = ".".join([prefix, *(str(part) for part in first["loc"])])
    value = first.get("input")
    shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
    more = f"; and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    return f"{path}: {first['msg']}{shown}{more}"

"""Whose an object is: the one rule every write and delete of a child goes by.

An object is a reconciler's child only when its controller owner reference (the one with
``controller: true``) carries the owner's uid. Names and labels prove nothing: anyone can
create a Service called ``web`` or copy our labels, and an object left by an earlier owner
of the same name (deleted and re-created, or orphaned) has another uid. Such an object is
never patched, adopted or deleted; the owner reports a ``NameConflict`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid in the object's controller owner reference, or None when nothing controls it."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return str(ref.get("uid"))
    return None


def holder(obj: Mapping[str, Any]) -> str:
    """Who controls ``obj``, in words for a NameConflict message."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return f"controlled by {ref.get('kind')} {ref.get('name')} (uid {ref.get('uid')})"
    return "controlled by no owner of ours"


def conflict_message(kind: str, namespace: str, name: str, who: str) -> str:
    return (
        f"{kind} {namespace}/{name} already exists and is {who}: it is left alone; delete or rename it, "
        f"or give this object another name"
    )


def describe_conflict(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return conflict_message(str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")),
                            holder(obj))

"""Kubernetes Events about our objects: one per decision, with its figures in the message."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.conditions import now_rfc3339
from modelops.operator.plans import Event

COMPONENT = "modelops-operator"
MAX_MESSAGE = 1024


def event_object(involved: Mapping[str, Any], event: Event, now: datetime) -> dict[str, Any]:
    """A core/v1 Event about ``involved`` (an object as the API returned it)."""
    meta = involved.get("metadata") or {}
    stamp = now_rfc3339(now)
    # Unique per object, decision and moment, yet stable if the same post is retried.
    seed = f"{meta.get('uid')}/{event.reason}/{event.message}/{stamp}".encode()
    name = f"{meta.get('name')}.{hashlib.sha256(seed).hexdigest()[:16]}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:MAX_MESSAGE],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "action": event.reason,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }

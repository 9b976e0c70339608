"""Kubernetes Events about our objects: one per decision, with its figures in the message.

What is posted follows Kubernetes practice (client-go's ``EventRecorder`` and
``EventCorrelator``), so that thousands of objects do not cost an Event per routine step:

- ``collapse``: one reconcile's Events about one object, as the pure planners give them, become
  one Event per notable transition. The planners announce every changed condition
  (``"Type=Status: message"``, see ``TRANSITION``) besides their decisions (RolloutStarted,
  Promoted, ...); a condition's Normal transition that comes with a Normal decision is part of
  that decision (its message is appended to the decision's), and Events of the same type and
  reason are one Event (ArtifactVerified=True and Ready=True, both "Verified"). Warnings are
  never folded into a Normal Event. Each reason a reconcile gave is still posted at least once
  with its type, so ``kubectl get events --field-selector reason=X`` and ``modelops history``
  find what they found before. (Which condition changes are announced at all is the planners'
  choice: a first outcome that is good news is not, ``conditions.first_outcome``.)
- ``Recorder``: an Event identical to one posted recently about the same object (same type,
  reason and message: a transient failure retried with backoff) updates the existing Event's
  ``count`` and ``lastTimestamp`` instead of creating another (client-go's EventLogger does the
  same; its cache is an LRU of 4,096 entries, as here).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from modelops.conditions import now_rfc3339
from modelops.operator.plans import Event

COMPONENT = "modelops-operator"
MAX_MESSAGE = 1024
# How the reconcilers announce a condition's transition (reconcile.py's ``_condition_events``).
TRANSITION = re.compile(r"^[A-Z][A-Za-z]*=(True|False|Unknown): ")
# client-go's EventCorrelator: an LRU of this many recent Events, and how long a repeat counts.
CACHE_ENTRIES = 4096
REPEAT_WINDOW = timedelta(minutes=10)

log = logging.getLogger(__name__)


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


def is_transition(event: Event) -> bool:
    """Whether the Event only announces a condition's change (not a decision of its own)."""
    return bool(TRANSITION.match(event.message))


def collapse(events: Iterable[Event]) -> list[Event]:
    """One reconcile's Events about one object, one per notable transition (see the module doc)."""
    merged: dict[tuple[str, str], Event] = {}  # in the order given
    for event in events:
        key = (event.type, event.reason)
        merged[key] = _joined(merged[key], event) if key in merged else event
    decision = next((k for k, e in merged.items() if e.type == "Normal" and not is_transition(e)), None)
    if decision is None:
        return list(merged.values())
    folded = [k for k, e in merged.items() if k != decision and e.type == "Normal" and is_transition(e)]
    for other in folded:
        merged[decision] = _joined(merged[decision], merged[other])
    return [e for k, e in merged.items() if k not in folded]


def _joined(first: Event, then: Event) -> Event:
    if then.message in first.message:
        return first
    if is_transition(first) and is_transition(then) and first.reason == then.reason:
        # "ArtifactVerified=True: figures" and "Ready=True: figures": say the figures once.
        head, _, text = first.message.partition(": ")
        other_head, _, other_text = then.message.partition(": ")
        if text == other_text:
            return replace(first, message=f"{head}, {other_head}: {text}")
    return replace(first, message=f"{first.message}; {then.message}")


class EventsApi(Protocol):
    """What the recorder needs of the client (``Kube``)."""

    async def create(self, resource: Any, namespace: str, body: Mapping[str, Any]) -> dict[str, Any] | None: ...

    async def patch(self, resource: Any, namespace: str, name: str, patch: Mapping[str, Any],
                    subresource: str | None = None) -> dict[str, Any] | None: ...


@dataclass
class _Posted:
    name: str
    count: int
    last: datetime


class Recorder:
    """Posts Events, counting a recent identical one up instead of posting it again."""

    def __init__(self, resource: Any, entries: int = CACHE_ENTRIES, window: timedelta = REPEAT_WINDOW) -> None:
        self.resource = resource  # kube.EVENTS (given, so this module stays free of the client)
        self.entries = entries
        self.window = window
        self._recent: collections.OrderedDict[tuple[str, str, str, str], _Posted] = collections.OrderedDict()

    async def post(self, api: EventsApi, involved: Mapping[str, Any], events: Iterable[Event], now: datetime) -> None:
        """Post ``collapse(events)`` about ``involved``; an Event that cannot be posted is logged, not raised."""
        meta = involved.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        for event in collapse(events):
            try:
                await self._post(api, involved, namespace, event, now)
            except Exception as exc:  # an Event lost is not worth a failed reconcile
                log.warning("could not post Event %s about %s/%s: %s", event.reason, namespace, meta.get("name"), exc)

    async def _post(self, api: EventsApi, involved: Mapping[str, Any], namespace: str, event: Event,
                    now: datetime) -> None:
        key = (str((involved.get("metadata") or {}).get("uid")), event.type, event.reason, event.message[:MAX_MESSAGE])
        seen = self._recent.get(key)
        if seen is not None and now - seen.last <= self.window:
            patch = {"count": seen.count + 1, "lastTimestamp": now_rfc3339(now)}
            if await api.patch(self.resource, namespace, seen.name, patch) is not None:
                seen.count, seen.last = seen.count + 1, now
                self._recent.move_to_end(key)
                return
            # Gone (expired, deleted): post it afresh.
        body = event_object(involved, event, now)
        await api.create(self.resource, namespace, body)
        self._recent[key] = _Posted(body["metadata"]["name"], 1, now)
        self._recent.move_to_end(key)
        while len(self._recent) > self.entries:
            self._recent.popitem(last=False)

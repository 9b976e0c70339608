"""Objects in memory, the global resourceVersion, the event history and live watchers.

The store knows nothing of API semantics (see `cluster.py`): it keeps objects by
(group, plural, namespace, name), stamps every write with the next resourceVersion,
remembers recent events so a watch can resume from a resourceVersion (older than the
history means 410 Gone), and hands events to subscribed watch streams. It is
thread-safe: tests seed and inspect it from their own thread while the server runs in
another; events reach each watcher's event loop through `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

ObjectKey = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
StorageKey = tuple[str, str]  # group, plural


@dataclass(frozen=True)
class Event:
    resource_version: int
    storage_key: StorageKey
    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]
    old: dict[str, Any] | None = None


# What a subscription's queue yields besides events: the stream must end (cleanly or not).
CLOSE = "close"
ABORT = "abort"


@dataclass(eq=False)
class Subscription:
    storage_key: StorageKey
    namespace: str | None
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event | str] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        if event.storage_key != self.storage_key:
            return False
        return self.namespace is None or event.object.get("metadata", {}).get("namespace") == self.namespace

    def deliver(self, item: Event | str) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


def clone(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy; objects are JSON, and a JSON round trip is several times faster than deepcopy."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    except TypeError:  # something not JSON slipped in (a test seeding a tuple, say)
        return copy.deepcopy(obj)
    return copied


class Store:
    def __init__(self, history_size: int = 20_000) -> None:
        self.lock = threading.RLock()
        # Indexed by type first: lists and watches read one type, often among many objects.
        self._objects: dict[StorageKey, dict[ObjectKey, dict[str, Any]]] = collections.defaultdict(dict)
        # Objects with a deletionTimestamp: the only ones garbage collection has to look at.
        self._deleting: set[ObjectKey] = set()
        self._resource_version = 0
        self._history: collections.deque[Event] = collections.deque()
        self._history_size = history_size
        # Watches may resume from any resourceVersion >= this; older ones get 410 Gone.
        self._oldest_resumable = 0
        self._subscriptions: set[Subscription] = set()
        # (group, plural, label key, value) -> keys of the objects carrying that label: a list with
        # `labelSelector=k=v` (how controllers find their children) reads those, not the whole type.
        self._labelled: dict[tuple[str, str, str, str], set[ObjectKey]] = collections.defaultdict(set)
        # Called under the lock with (key, stored before, stored after; None when absent) on every
        # put and remove, whichever path wrote: the cluster keeps its ClusterIP allocator by it.
        self.observers: list[Callable[[ObjectKey, dict[str, Any] | None, dict[str, Any] | None], None]] = []

    @property
    def resource_version(self) -> int:
        return self._resource_version

    @property
    def oldest_resumable(self) -> int:
        return self._oldest_resumable

    def next_resource_version(self) -> int:
        with self.lock:
            self._resource_version += 1
            return self._resource_version

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects[key[:2]].get(key)
            return clone(obj) if obj is not None else None

    def peek(self, key: ObjectKey) -> dict[str, Any] | None:
        """The stored object itself, not a copy: only for read-only checks under the lock."""
        return self._objects[key[:2]].get(key)

    def items(self, storage_key: StorageKey | None = None, namespace: str | None = None
              ) -> Iterator[tuple[ObjectKey, dict[str, Any]]]:
        """Stored objects (not copies), sorted by namespace and name; call under the lock."""
        tables = [self._objects[storage_key]] if storage_key is not None else list(self._objects.values())
        keys = sorted(key for table in tables for key in table if namespace is None or key[2] == namespace)
        for key in keys:
            obj = self._objects[key[:2]].get(key)
            if obj is not None:  # removed while the caller was iterating
                yield key, obj

    def labelled(self, storage_key: StorageKey, pairs: list[tuple[str, str]], namespace: str | None = None
                 ) -> Iterator[tuple[ObjectKey, dict[str, Any]]]:
        """Like items(), only objects carrying every (key, value) label; call under the lock."""
        sets = [self._labelled.get((*storage_key, k, v), set()) for k, v in pairs]
        keys = set.intersection(*sets) if sets else set()
        for key in sorted(k for k in keys if namespace is None or k[2] == namespace):
            obj = self._objects[key[:2]].get(key)
            if obj is not None:
                yield key, obj

    def _index(self, key: ObjectKey, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        before = ((old or {}).get("metadata") or {}).get("labels") or {}
        after = ((new or {}).get("metadata") or {}).get("labels") or {}
        if before == after:
            return
        for k, v in before.items():
            if after.get(k) != v:
                entry = (*key[:2], k, str(v))
                self._labelled[entry].discard(key)
                if not self._labelled[entry]:
                    del self._labelled[entry]
        for k, v in after.items():
            if before.get(k) != v:
                self._labelled[(*key[:2], k, str(v))].add(key)

    def deleting(self) -> list[ObjectKey]:
        """Keys of objects marked for deletion (with a deletionTimestamp), sorted."""
        return sorted(self._deleting)

    def put(self, key: ObjectKey, obj: dict[str, Any], event_type: str, old: dict[str, Any] | None = None) -> None:
        """Store `obj` (already stamped with its resourceVersion) and announce it."""
        with self.lock:
            before = self._objects[key[:2]].get(key)
            self._index(key, before, obj)
            for observer in self.observers:
                observer(key, before, obj)
            self._objects[key[:2]][key] = obj
            if obj["metadata"].get("deletionTimestamp"):
                self._deleting.add(key)
            else:
                self._deleting.discard(key)
            self._emit(Event(int(obj["metadata"]["resourceVersion"]), key[:2], event_type, clone(obj),
                             clone(old) if old is not None else None))

    def remove(self, key: ObjectKey) -> dict[str, Any] | None:
        """Remove the object; the DELETED event carries it with a fresh resourceVersion."""
        with self.lock:
            obj = self._objects[key[:2]].pop(key, None)
            self._deleting.discard(key)
            if obj is None:
                return None
            self._index(key, obj, None)
            for observer in self.observers:
                observer(key, obj, None)
            obj = clone(obj)
            obj["metadata"]["resourceVersion"] = str(self.next_resource_version())
            self._emit(Event(int(obj["metadata"]["resourceVersion"]), key[:2], "DELETED", clone(obj)))
            return obj

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self._history_size:
            dropped = self._history.popleft()
            self._oldest_resumable = dropped.resource_version
        for subscription in list(self._subscriptions):
            if subscription.wants(event):
                subscription.deliver(event)

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older watches must relist."""
        with self.lock:
            self._history.clear()
            self._oldest_resumable = self._resource_version

    def subscribe(self, storage_key: StorageKey, namespace: str | None, since: int | None,
                  initial: Callable[[], list[Event]] | None = None) -> tuple[Subscription, list[Event]] | None:
        """Subscribe to live events, and return what happened after `since` (or `initial()`).

        Both happen under the lock, so no event is lost or doubled between the two.
        Returns None when `since` is older than the history (the caller answers 410).
        """
        with self.lock:
            if since is not None and since < self._oldest_resumable:
                return None
            backlog: list[Event]
            if since is None:
                backlog = initial() if initial is not None else []
            else:
                backlog = [e for e in self._history if e.resource_version > since]
            subscription = Subscription(storage_key, namespace, asyncio.get_running_loop())
            backlog = [e for e in backlog if subscription.wants(e)]
            self._subscriptions.add(subscription)
            return subscription, backlog

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.discard(subscription)

    def drop_watches(self, *, abort: bool = False) -> int:
        """End every open watch stream (cleanly, or by cutting the connection with `abort`)."""
        with self.lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.deliver(ABORT if abort else CLOSE)
        return len(subscriptions)

    @property
    def watch_count(self) -> int:
        with self.lock:
            return len(self._subscriptions)

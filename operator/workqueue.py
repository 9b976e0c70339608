"""A keyed work queue: what client-go controllers use, for kopf's event handlers to feed.

kopf calls handlers per object; a ModelDeployment must also be reconciled when one of its
Deployments reports available replicas, or when a ModelVersion of its model turns Ready.
Event handlers of all three kinds therefore only *enqueue* the key of the object to look
at; workers reconcile keys level-triggered, from what the API says now. The queue gives
the guarantees that make that safe and cheap:

- a key waiting in the queue is there once, however many events asked for it;
- a key is handled by one worker at a time; asked for while being handled, it runs again after;
- failures are retried per key with exponential backoff, and a success resets it;
- delayed adds (``add_after``) keep only the earliest deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Key:
    kind: str  # "ModelVersion" | "ModelDeployment"
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


MAX_EXPONENT = 62


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    maximum: float = 300.0

    def delay(self, failures: int) -> float:
        # The exponent is clamped: 2.0 ** 1025 overflows a float, and a key failing every
        # 300 s reaches that count in ~85 hours. 2 ** 62 times any sane base is past any maximum.
        exponent = min(max(failures - 1, 0), MAX_EXPONENT)
        return float(min(self.maximum, self.base * 2.0**exponent))


class WorkQueue:
    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self._ready: asyncio.Queue[Key] = asyncio.Queue()
        self._waiting: set[Key] = set()  # in _ready, or due to re-enter it when done
        self._active: set[Key] = set()
        self._timers: dict[Key, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[Key, int] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: Key) -> None:
        if key in self._waiting:
            return
        self._waiting.add(key)
        if key not in self._active:
            self._ready.put_nowait(key)

    def add_after(self, key: Key, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        existing = self._timers.get(key)
        if existing is not None:
            if existing[0] <= due:
                return
            existing[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def retry(self, key: Key, delay: float | None = None) -> float:
        """Schedule a failed key again: after ``delay``, or the next step of its backoff."""
        self._failures[key] = self._failures.get(key, 0) + 1
        wait = self.backoff.delay(self._failures[key]) if delay is None else delay
        self.add_after(key, wait)
        return wait

    def forget(self, key: Key) -> None:
        """The key succeeded: its next failure starts the backoff from the beginning."""
        self._failures.pop(key, None)

    def failures(self, key: Key) -> int:
        return self._failures.get(key, 0)

    def active(self, key: Key) -> bool:
        """Whether a worker is handling the key right now."""
        return key in self._active

    def busy(self, key: Key) -> bool:
        """Whether the key is waiting in the queue or being handled (not merely scheduled for later)."""
        return key in self._waiting or key in self._active

    def scheduled(self, key: Key) -> bool:
        """Whether the key is due to be added later (a retry or an ``add_after``)."""
        return key in self._timers

    async def get(self) -> Key:
        key = await self._ready.get()
        self._waiting.discard(key)
        self._active.add(key)
        return key

    def done(self, key: Key) -> None:
        self._active.discard(key)
        if key in self._waiting:
            self._ready.put_nowait(key)

    def close(self) -> None:
        for _due, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

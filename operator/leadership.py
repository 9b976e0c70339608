"""Leader election on a coordination.k8s.io/v1 Lease: only the holder reconciles.

The guarantees, as client-go's leaderelection states them, kept here in asyncio:

- A standby takes the Lease only once it has seen the same holder and renewTime unchanged
  for ``lease_duration`` by its *own* monotonic clock (no trust in clocks across nodes).
- The leader renews every ``retry_period``; ``still_leader()`` is True only until
  ``renew_deadline`` after the start of the last successful renewal, measured on the
  monotonic clock (which keeps running while the process is paused by SIGSTOP). Every write
  of the reconcilers asks it right before it is sent (``Kube(may_write=...)``), and so does
  the renewal itself: a leader paused or cut off past its deadline writes nothing, not even
  the Lease, when it comes back — it steps down and its process stops (as controller-runtime
  does), to start again as a standby.
- ``renew_deadline < lease_duration``: the old leader stops acting at least
  ``lease_duration - renew_deadline`` before any standby may take over, which covers the
  time between the check and the request reaching the server.

Why not ``kubernetes.leaderelection`` (the client's port of client-go): it runs threads around
the synchronous client (a second login beside kopf's), measures time with ``time.time()`` (a
wall-clock step can extend or cut a lease), and offers only callbacks after its renew loop has
noticed a loss: there is no predicate a write can ask at the moment it is made, which is what
"stop acting before the lease can expire" needs in a paused process. This module is that loop
with the predicate, ~200 lines on the operator's own client.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

from modelops.operator import metrics
from modelops.operator.kube import ApiError, ApiUnavailable, Kube, Resource

log = logging.getLogger(__name__)

LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
Action = Literal["take", "renew", "wait"]


@dataclass(frozen=True)
class Timing:
    """client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period."""

    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period_s}s, {self.renew_deadline_s}s, {self.lease_duration_s}s"
            )


@dataclass(frozen=True)
class Holding:
    """What a Lease's spec says about its holder (the part that decides)."""

    holder: str
    renew_time: str
    duration_s: float
    transitions: int


def holding(lease: Mapping[str, Any]) -> Holding:
    spec = lease.get("spec") or {}
    return Holding(
        holder=str(spec.get("holderIdentity") or ""),
        renew_time=str(spec.get("renewTime") or ""),
        duration_s=float(spec.get("leaseDurationSeconds") or 0),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def decide(current: Holding, identity: str, *, unchanged_for_s: float) -> Action:
    """Take a free or expired Lease, renew ours, else wait. ``unchanged_for_s``: how long this
    replica has seen the same holder and renewTime (its own clock, not the holder's)."""
    if current.holder == identity:
        return "renew"
    if not current.holder or unchanged_for_s > current.duration_s:
        return "take"
    return "wait"


def lease_spec(identity: str, timing: Timing, previous: Holding | None, now: datetime) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # MicroTime
    spec: dict[str, Any] = {
        "holderIdentity": identity,
        "leaseDurationSeconds": max(int(timing.lease_duration_s), 1),
        "renewTime": stamp,
    }
    if previous is None or previous.holder != identity:
        spec["acquireTime"] = stamp
        spec["leaseTransitions"] = 0 if previous is None else previous.transitions + 1
    return spec


def default_identity() -> str:
    """hostname (the pod's name in a cluster) plus a random suffix, as client-go's examples do."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class Leadership:
    def __init__(
        self,
        kube_factory: Callable[[], Awaitable[Kube]],
        *,
        namespace: str,
        name: str,
        identity: str | None = None,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube_factory = kube_factory
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.timing = timing or Timing()
        self._clock = clock
        self.elected = asyncio.Event()
        self.lost = asyncio.Event()
        self.leading = False
        self.holder = ""
        self._renewed_at = 0.0
        self._seen: Holding | None = None
        self._seen_at = 0.0
        metrics.LEADER.set(0)

    def still_leader(self) -> bool:
        """True only within the renew deadline of the last successful renewal (monotonic)."""
        return self.leading and self._clock() < self._renewed_at + self.timing.renew_deadline_s

    async def run(self) -> None:
        """Acquire, then renew until the deadline is missed or another holder is seen."""
        kube = await self._kube_factory()
        try:
            while not self.lost.is_set():
                if self.leading and not self.still_leader():
                    self._step_down("the Lease was not renewed within the renew deadline")
                    break
                try:
                    await self._try(kube)
                except (ApiUnavailable, ApiError) as exc:
                    log.warning("Lease %s/%s: %s", self.namespace, self.name, exc)
                if self.lost.is_set():
                    break
                await asyncio.sleep(self.timing.retry_period_s)
        finally:
            await kube.close()

    async def release(self) -> None:
        """On a graceful stop, hand the Lease over at once (client-go's ReleaseOnCancel)."""
        if not self.still_leader():
            return
        kube = await self._kube_factory()
        try:
            lease = await kube.get(LEASES, self.namespace, self.name)
            if lease is not None and holding(lease).holder == self.identity and self.still_leader():
                spec = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1}
                await kube.replace(LEASES, self.namespace, self.name, {**lease, "spec": spec})
        except (ApiUnavailable, ApiError) as exc:
            log.warning("Lease %s/%s not released: %s", self.namespace, self.name, exc)
        finally:
            self.leading = False
            metrics.LEADER.set(0)
            await kube.close()

    async def _try(self, kube: Kube) -> None:
        started = self._clock()  # a renewal counts from before it was asked for: conservative
        lease = await kube.get(LEASES, self.namespace, self.name)
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": lease_spec(self.identity, self.timing, None, datetime.now(UTC)),
            }
            if not self._may_write() or await kube.create(LEASES, self.namespace, body) is None:
                return
            self._won(started, "")
            return
        current = holding(lease)
        if current != self._seen:
            self._seen, self._seen_at = current, self._clock()
        self.holder = current.holder
        action = decide(current, self.identity, unchanged_for_s=self._clock() - self._seen_at)
        if action == "wait":
            if self.leading:
                self._step_down(f"the Lease is held by {current.holder}")
            return
        if not self._may_write():
            return
        spec = {**(lease.get("spec") or {}), **lease_spec(self.identity, self.timing, current, datetime.now(UTC))}
        if await kube.replace(LEASES, self.namespace, self.name, {**lease, "spec": spec}) is not None:
            self._won(started, current.holder)

    def _may_write(self) -> bool:
        """The Lease is written only by a standby, or by a leader within its deadline."""
        if self.leading and not self.still_leader():
            self._step_down("the Lease was not renewed within the renew deadline")
            return False
        return not self.lost.is_set()

    def _won(self, started: float, previous: str) -> None:
        self._renewed_at = started
        self.holder = self.identity
        if not self.leading:
            self.leading = True
            metrics.LEADER.set(1)
            log.info("Leading as %s (Lease %s/%s, before: %s)", self.identity, self.namespace, self.name,
                     previous or "nobody")
            self.elected.set()

    def _step_down(self, why: str) -> None:
        if self.leading:
            log.error("Leader election lost (%s): stopping, to start again as a standby", why)
        self.leading = False
        metrics.LEADER.set(0)
        self.lost.set()


def readiness_app(leadership: Leadership | None) -> web.Application:
    """/readyz: 200 on the leader and on a standby alike (a Deployment's RollingUpdate with
    maxUnavailable 0 waits for the new pod to be Ready, and a new pod is a standby until the
    old one goes), saying in its body who leads; 503 once this replica has lost the Lease."""

    async def ready(_: web.Request) -> web.Response:
        if leadership is None:
            return web.json_response({"leader": True, "election": False})
        body = {"leader": leadership.still_leader(), "identity": leadership.identity,
                "holder": leadership.holder, "election": True}
        return web.json_response(body, status=503 if leadership.lost.is_set() else 200)

    app = web.Application()
    app.add_routes([web.get("/readyz", ready)])
    return app

"""Leader election's decisions and deadlines, without a server (a fake monotonic clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.operator import metrics
from modelops.operator.kube import ApiUnavailable, Connection, Kube, NotLeading
from modelops.operator.leadership import LEASES, Holding, Leadership, Timing, decide, holding, lease_spec

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def held(holder: str, duration: float = 15) -> Holding:
    return Holding(holder=holder, renew_time="2026-11-30T20:00:00.000000Z", duration_s=duration, transitions=2)


def test_a_free_lease_is_taken() -> None:
    assert decide(held(""), "me", unchanged_for_s=0) == "take"


def test_our_own_lease_is_renewed() -> None:
    assert decide(held("me"), "me", unchanged_for_s=100) == "renew"


def test_another_holder_is_waited_for_until_its_lease_expires_by_our_clock() -> None:
    assert decide(held("other"), "me", unchanged_for_s=14.9) == "wait"
    assert decide(held("other"), "me", unchanged_for_s=15.1) == "take"


@pytest.mark.parametrize(("lease", "renew", "retry"), [(10, 10, 2), (15, 10, 10), (15, 10, 0), (10, 15, 2)])
def test_timing_must_order_retry_below_renew_below_lease(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        Timing(lease, renew, retry)


def test_taking_over_counts_a_transition_and_stamps_acquire_time() -> None:
    spec = lease_spec("me", Timing(), held("other"), NOW)
    assert (spec["holderIdentity"], spec["leaseTransitions"], spec["leaseDurationSeconds"]) == ("me", 3, 15)
    assert spec["acquireTime"] == spec["renewTime"] == "2026-11-30T20:00:00.000000Z"


def test_renewing_keeps_acquire_time_and_transitions() -> None:
    spec = lease_spec("me", Timing(), held("me"), NOW)
    assert "acquireTime" not in spec
    assert "leaseTransitions" not in spec


def test_holding_reads_an_empty_spec() -> None:
    assert holding({}) == Holding("", "", 0.0, 0)


class FakeLeases:
    """A Kube stand-in holding one Lease, with resourceVersion checks."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.writes = 0
        self.fail = False

    async def get(self, *_: Any) -> dict[str, Any] | None:
        if self.fail:
            raise ApiUnavailable("partitioned")
        return None if self.lease is None else dict(self.lease)

    async def create(self, _r: Any, _ns: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.writes += 1
        if self.lease is not None:
            return None
        self.lease = {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}}
        return self.lease

    async def replace(self, _r: Any, _ns: str, _n: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.writes += 1
        assert self.lease is not None
        if body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            return None
        rv = str(int(self.lease["metadata"]["resourceVersion"]) + 1)
        self.lease = {**body, "metadata": {**body["metadata"], "resourceVersion": rv}}
        return self.lease

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _leadership(leases: FakeLeases, clock: Clock, identity: str) -> Leadership:
    async def factory() -> Kube:
        return leases  # type: ignore[return-value]

    return Leadership(factory, namespace="default", name="op", identity=identity, timing=Timing(3, 2, 0.5),
                      clock=clock)


async def test_the_leader_stops_being_leader_at_the_renew_deadline_without_renewals() -> None:
    leases, clock = FakeLeases(), Clock()
    me = _leadership(leases, clock, "me")
    await me._try(leases)  # type: ignore[arg-type]
    assert me.still_leader()
    assert metrics.LEADER._value.get() == 1
    clock.now += 1.9
    assert me.still_leader()
    clock.now += 0.2  # 2.1 s after the renewal started: past the 2 s deadline, before the 3 s lease
    assert not me.still_leader()


async def test_a_leader_paused_past_its_deadline_steps_down_without_writing() -> None:
    leases, clock = FakeLeases(), Clock()
    me = _leadership(leases, clock, "me")
    await me._try(leases)  # type: ignore[arg-type]
    writes = leases.writes
    clock.now += 60  # SIGSTOP for a minute, then SIGCONT: the loop's next step
    await asyncio.wait_for(me.run(), 5)
    assert me.lost.is_set()
    assert not me.still_leader()
    assert leases.writes == writes
    assert metrics.LEADER._value.get() == 0


async def test_a_partitioned_leader_stops_acting_before_the_standby_may_take_over() -> None:
    leases, clock = FakeLeases(), Clock()
    leader, standby = _leadership(leases, clock, "a"), _leadership(leases, clock, "b")
    await leader._try(leases)  # type: ignore[arg-type]
    await standby._try(leases)  # type: ignore[arg-type]  # sees "a" for the first time
    clock.now += 2.5
    assert not leader.still_leader()  # deadline (2 s) passed: no more writes from "a"
    await standby._try(leases)  # type: ignore[arg-type]
    assert not standby.leading  # the lease (3 s) has not expired by b's clock yet
    clock.now += 0.6
    await standby._try(leases)  # type: ignore[arg-type]
    assert standby.still_leader()
    assert leases.lease is not None
    assert leases.lease["spec"]["leaseTransitions"] == 1


async def test_a_leader_that_sees_another_holder_steps_down() -> None:
    leases, clock = FakeLeases(), Clock()
    me = _leadership(leases, clock, "me")
    await me._try(leases)  # type: ignore[arg-type]
    assert leases.lease is not None
    leases.lease["spec"]["holderIdentity"] = "usurper"
    await me._try(leases)  # type: ignore[arg-type]
    assert me.lost.is_set()
    assert not me.still_leader()


async def test_a_write_is_refused_before_it_is_sent_when_not_leading() -> None:
    kube = Kube(Connection("http://127.0.0.1:9", {}, False), timeout_s=1, may_write=lambda: False)
    try:
        with pytest.raises(NotLeading, match="does not hold the leader Lease"):
            await kube.patch(LEASES, "default", "op", {"spec": {}})
    finally:
        await kube.close()


async def test_readyz_is_ready_on_leader_and_standby_and_says_who_leads() -> None:
    import aiohttp
    from aiohttp import web

    from modelops.operator.leadership import readiness_app

    leases, clock = FakeLeases(), Clock()
    leader, standby = _leadership(leases, clock, "a"), _leadership(leases, clock, "b")
    await leader._try(leases)  # type: ignore[arg-type]
    await standby._try(leases)  # type: ignore[arg-type]
    answers = []
    for who in (leader, standby):
        runner = web.AppRunner(readiness_app(who))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as response:
            answers.append((response.status, await response.json()))
        await runner.cleanup()
    assert answers[0] == (200, {"leader": True, "identity": "a", "holder": "a", "election": True})
    assert answers[1] == (200, {"leader": False, "identity": "b", "holder": "a", "election": True})

"""The work queue: one entry per key, one worker per key, per-key backoff, earliest delayed add wins."""

from __future__ import annotations

import asyncio

from modelops.operator.workqueue import Backoff, Key, WorkQueue

A = Key("ModelDeployment", "default", "a")
B = Key("ModelDeployment", "default", "b")


async def test_a_key_asked_for_many_times_is_queued_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add(A)
    queue.add(B)
    assert [await queue.get(), await queue.get()] == [A, B]
    assert len(queue) == 0


async def test_a_key_asked_for_while_being_handled_runs_again_after_not_concurrently() -> None:
    queue = WorkQueue()
    queue.add(A)
    key = await queue.get()
    queue.add(A)  # an event arrives while a worker handles A
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not getter.done()  # no second worker gets A meanwhile
    queue.done(key)
    assert await asyncio.wait_for(getter, 1) == A


async def test_failures_back_off_exponentially_up_to_the_maximum_and_success_resets() -> None:
    queue = WorkQueue(Backoff(base=1.0, maximum=5.0))
    delays = [queue.retry(A) for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    queue.forget(A)
    assert queue.retry(A) == 1.0
    queue.close()


async def test_delayed_adds_keep_the_earliest_deadline() -> None:
    queue = WorkQueue()
    queue.add_after(A, 30.0)
    queue.add_after(A, 0.01)
    assert await asyncio.wait_for(queue.get(), 1) == A
    queue.close()


def test_the_backoff_stays_at_its_maximum_however_many_failures() -> None:
    # 2 ** 1025 no longer fits a float: the old delay raised OverflowError at ~1,026 failures.
    backoff = Backoff(base=1.0, maximum=300.0)
    assert [backoff.delay(n) for n in (1, 2, 1025, 1026, 10_000, 10**9)] == [1.0, 2.0, 300.0, 300.0, 300.0, 300.0]
    assert Backoff(base=1e300, maximum=5.0).delay(2000) == 5.0


async def test_a_key_that_failed_thousands_of_times_is_still_retried_at_the_maximum() -> None:
    queue = WorkQueue(Backoff(base=1.0, maximum=300.0))
    delays = [queue.retry(A) for _ in range(1100)]
    assert delays[-80:] == [300.0] * 80
    assert queue.failures(A) == 1100
    queue.close()

"""The micro-batcher: concurrent requests share model calls, each gets its own rows'
answers, a lone request never waits, and one bad request does not fail its batch."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from modelops.serving.batching import Batcher, BatcherStoppedError
from modelops.serving.model import ServedModel
from tests.serving.models import rows, served


class Recording(ServedModel):
    """The real model, recording the size of every call (and able to hold calls)."""

    def __init__(self, base: ServedModel) -> None:
        self.__dict__.update(base.__dict__)
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def predict(self, rows: Any) -> Any:
        self.gate.wait(10)
        if np.any(rows < 0):
            raise ValueError("negative values are not allowed")
        self.calls.append(len(rows))
        return super().predict(rows)


async def test_concurrent_requests_are_predicted_together() -> None:
    model = Recording(served())
    batches: list[int] = []
    in_flight = 0
    batcher = Batcher(
        model,
        max_batch_size=64,
        max_latency=0.5,
        pending=lambda: in_flight,
        on_batch=lambda _r, _p, sizes: batches.extend(sizes),
    )
    batcher.start()
    try:
        requests = [rows(1 + i % 3, seed=i) for i in range(20)]
        in_flight = len(requests)
        model.gate.clear()  # hold the first call so the rest queue up behind it
        tasks = [asyncio.create_task(batcher.predict(x, proba=i % 2 == 0)) for i, x in enumerate(requests)]
        await asyncio.sleep(0.05)
        model.gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        batcher.stop()
    for i, (x, result) in enumerate(zip(requests, results, strict=True)):
        assert np.array_equal(result.predictions, served().predict(x))
        assert (result.probabilities is not None) == (i % 2 == 0)
    assert sum(model.calls) == sum(len(x) for x in requests)
    assert len(model.calls) < len(requests)
    assert max(model.calls) <= 64
    assert batches == model.calls  # monitoring sees every call once


async def test_a_lone_request_does_not_wait_for_company() -> None:
    model = Recording(served())
    batcher = Batcher(model, max_batch_size=32, max_latency=60.0, pending=lambda: 1)
    batcher.start()
    try:
        result = await asyncio.wait_for(batcher.predict(rows(1)), 30)  # would hang 60s if it waited
    finally:
        batcher.stop()
    assert result.predictions.shape == (1,)


async def test_a_failing_request_fails_alone() -> None:
    model = Recording(served())
    batcher = Batcher(model, max_batch_size=64, max_latency=0.0)
    batcher.start()
    try:
        model.gate.clear()
        good = [asyncio.create_task(batcher.predict(rows(2, seed=i))) for i in range(3)]
        bad = asyncio.create_task(batcher.predict(-rows(1)))
        await asyncio.sleep(0.05)
        model.gate.set()
        with pytest.raises(ValueError, match="negative"):
            await bad
        assert all(r.predictions.shape == (2,) for r in await asyncio.gather(*good))
    finally:
        batcher.stop()


async def test_stop_finishes_queued_work_and_refuses_new() -> None:
    model = Recording(served())
    batcher = Batcher(model, max_batch_size=1, max_latency=0.0)
    batcher.start()
    model.gate.clear()
    queued = [asyncio.create_task(batcher.predict(rows(1, seed=i))) for i in range(3)]
    await asyncio.sleep(0.05)
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    model.gate.set()
    results = await asyncio.gather(*queued)
    stopper.join(10)
    assert len(results) == 3
    with pytest.raises(BatcherStoppedError):
        await batcher.predict(rows(1))

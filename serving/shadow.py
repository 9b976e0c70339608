"""Shadow mirroring: a share of live infer requests, sent on to a candidate version and compared.

A stable pod started with ``--shadow-url/--shadow-percent/--shadow-version`` offers every
request it answered with 200 to ``ShadowMirror.offer``. The first one of each ``100 /
percent`` (an exact share, no random draw) goes into a bounded queue; when the queue is full
(requests or bytes) it is dropped and counted, never waited for. A few worker tasks post the
queued bodies to ``{url}/v2/models/{model}/versions/{candidate}/infer`` (the versioned path:
a pod of another version answers 404, counted as an error, never compared) with the header
``x-modelops-shadow: <this version>``, time the answer and compare its ``predict`` output
with this pod's own predictions. The user's answer is already sent when a request is
offered: mirroring never delays, fails or changes it.

The candidate serves mirrored requests as any other (they count in its request, prediction
and drift metrics: its output distribution over the mirrored share of live inputs is what
PSI compares with the stable's), but does not remember them for feedback (nobody will send
labels for an answer nobody saw) and never mirrors them further.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import orjson

from modelops.serving.feedback import label_key
from modelops.serving.metrics import ShadowMetrics

log = logging.getLogger("modelops.serving.shadow")

SHADOW_HEADER = "x-modelops-shadow"


class Sampler:
    """Picks exactly ``percent`` of calls, spread evenly (an accumulator, not a coin)."""

    def __init__(self, percent: float) -> None:
        self.percent = percent
        self._credit = 100.0 - percent  # the first call is mirrored

    def take(self) -> bool:
        self._credit += self.percent
        if self._credit >= 100.0:
            self._credit -= 100.0
            return True
        return False


def agreement(
    ours: npt.NDArray[Any], theirs: list[Any], classification: bool, tolerance: float
) -> tuple[int, int]:
    """(rows compared, rows agreeing) of our predictions against the candidate's ``predict``
    data. Classes compare as feedback labels do (1, 1.0 and "1" agree); regressors agree
    within ``tolerance`` relative difference. A row count that differs compares nothing."""
    if len(theirs) != int(ours.shape[0]):
        return 0, 0
    if classification:
        agreed = sum(label_key(a) == label_key(b) for a, b in zip(ours.tolist(), theirs, strict=True))
        return len(theirs), agreed
    try:
        other = np.asarray(theirs, dtype=np.float64)
    except (TypeError, ValueError):
        return len(theirs), 0
    close = np.isclose(ours.astype(np.float64), other, rtol=tolerance, atol=tolerance)
    return len(theirs), int(close.sum())


def candidate_predictions(body: bytes) -> list[Any] | None:
    """The ``predict`` output's data of an OIP answer, or None when it has none."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    for output in outputs if isinstance(outputs, list) else ():
        if isinstance(output, dict) and output.get("name") == "predict" and isinstance(output.get("data"), list):
            data: list[Any] = output["data"]
            return data
    return None


@dataclass(frozen=True, slots=True)
class _Mirrored:
    body: bytes
    predictions: npt.NDArray[Any]


class ShadowMirror:
    def __init__(
        self,
        url: str,
        percent: float,
        *,
        model: str,
        version: str,
        candidate: str,
        metrics: ShadowMetrics,
        classification: bool,
        queue_size: int = 64,
        queue_bytes: int = 16 << 20,
        workers: int = 4,
        timeout: float = 5.0,
        tolerance: float = 1e-6,
    ) -> None:
        self.target = f"{url.rstrip('/')}/v2/models/{quote(model, safe='')}/versions/{quote(candidate, safe='')}/infer"
        self.sampler = Sampler(percent)
        self.version = version
        self.metrics = metrics
        self.classification = classification
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.workers = workers
        self.timeout = timeout
        self.tolerance = tolerance
        self._queue: asyncio.Queue[_Mirrored] | None = None
        self._queued_bytes = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._session: Any = None  # aiohttp.ClientSession, made in the event loop

    def offer(self, body: bytes, predictions: npt.NDArray[Any]) -> None:
        """Called on the event loop once the user's answer is settled: queue or drop, at once."""
        if not self.sampler.take():
            return
        if self._queue is None:
            self._start()
        assert self._queue is not None
        if self._queue.qsize() >= self.queue_size or self._queued_bytes + len(body) > self.queue_bytes:
            self.metrics.outcomes["dropped"].inc()
            return
        self._queued_bytes += len(body)
        self._queue.put_nowait(_Mirrored(body, predictions))

    def _start(self) -> None:
        import aiohttp

        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={SHADOW_HEADER: self.version, "content-type": "application/json"},
        )
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            self._queued_bytes -= len(item.body)
            try:
                await self._mirror(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one odd answer stop the mirror
                log.exception("mirroring to %s failed", self.target)
                self.metrics.outcomes["error"].inc()

    async def _mirror(self, item: _Mirrored) -> None:
        import aiohttp

        started = time.perf_counter()
        try:
            async with self._session.post(self.target, data=item.body) as response:
                body = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.metrics.outcomes["error"].inc()
            log.debug("mirror to %s: %s", self.target, exc)
            return
        self.metrics.latency.observe(time.perf_counter() - started)
        theirs = candidate_predictions(body) if 200 <= status < 300 else None
        if theirs is None:
            self.metrics.outcomes["error"].inc()
            log.debug("mirror to %s answered %d without predictions", self.target, status)
            return
        self.metrics.outcomes["answered"].inc()
        rows, agreed = agreement(item.predictions, theirs, self.classification, self.tolerance)
        self.metrics.rows.inc(rows)
        self.metrics.agreed.inc(agreed)

    async def close(self) -> None:
        """Stop the workers (requests still queued are not sent) and close the connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

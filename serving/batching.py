"""Adaptive micro-batching: concurrent requests predicted together in one worker thread.

The worker never waits for a batch to fill when nobody else is waiting: it takes what is
queued and predicts at once, so a lone client pays no batching delay. Batches form by
themselves while the model is busy (requests queue during a predict); and when more
requests are in flight than queued (``pending()``, e.g. still being parsed), the worker
waits up to ``max_latency`` for them. Predicting off the event loop also keeps serving
fair under load: a slow model never starves connections of the loop.

Monitoring (``on_batch``) runs in the same thread, vectorised, but only after the answers
are out: when the worker is idle (or every few batches, or rows, under continuous load),
so counting never holds the GIL while the event loop is answering. The batches answered
since the last time are counted together, in one call (``on_batch`` gets the rows of each
model call in ``sizes``): drift counting costs ~0.1 ms per call whatever its rows, which
one-row calls (no concurrency, or batching off) would otherwise pay every request. The
backlog waiting for it is bounded by rows too: it holds the batches' rows and
predictions, which for a few huge requests is a lot of memory.

A lone request to a model whose call costs microseconds (``inline_rows``: a direct linear
predictor's few rows) is predicted on the caller's thread instead: nothing else is in
flight to batch it with, and the hand-over to the worker and back (a futex wake of the
worker, the GIL passed over, a wake-up of the event loop through its self-pipe, one more
loop iteration) cost ten times the prediction. Its monitoring is handed to the worker,
which counts such calls in groups (``_BACKLOG_LIMIT`` calls, or the ones of the last
``_HANDED_SECONDS``), so a lone client pays neither the hop nor per-request drift counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.serving.model import ServedModel

log = logging.getLogger(__name__)

# Monitoring of answered batches waits for an idle moment (at most this many batches),
# and that moment starts with a wait this long, which lets the event loop answer first.
_BACKLOG_LIMIT = 16
_BACKLOG_ROWS = 1 << 16
_YIELD_SECONDS = 0.0002
# Answered calls are monitored together up to this many rows per on_batch call; a larger
# call is monitored alone (joining it would only copy its rows).
_GROUP_ROWS = 4096
# Calls predicted on the caller's thread are monitored by the worker at the latest this long
# after the first of them, or once _BACKLOG_LIMIT of them wait. Past _HANDED_LIMIT waiting
# (a worker busy monitoring) requests take the worker's queue again, which bounds them.
_HANDED_SECONDS = 0.02
_HANDED_LIMIT = 4 * _BACKLOG_LIMIT


@dataclass(frozen=True)
class Prediction:
    predictions: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None


@dataclass
class _Job:
    rows: npt.NDArray[Any]
    proba: bool
    future: asyncio.Future[Prediction]
    loop: asyncio.AbstractEventLoop


# on_batch(rows, predictions, sizes): the rows and predictions of one or more model calls,
# concatenated; sizes holds each call's row count, in order.
OnBatch = Callable[[npt.NDArray[Any], npt.NDArray[Any], list[int]], None]


class BatcherStoppedError(RuntimeError):
    """The batcher is shutting down and takes no new requests."""


class Batcher:
    def __init__(
        self,
        model: ServedModel,
        *,
        max_batch_size: int = 32,
        max_latency: float = 0.002,
        pending: Callable[[], int] | None = None,
        on_batch: OnBatch | None = None,
        inline_rows: int = 0,
    ) -> None:
        """``pending``: requests in flight (the caller's own count, this one included);
        ``inline_rows``: a lone request (``pending() <= 1``) of at most this many rows is
        predicted on the caller's thread (see the module docstring; 0: never)."""
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_latency < 0:
            raise ValueError(f"max_latency must not be negative, got {max_latency}")
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency
        self._pending = pending
        self._on_batch = on_batch
        self.inline_rows = inline_rows if pending is not None else 0
        self._settled = True  # the event loop ran what was ready when the last inline call ended
        self._queue: deque[_Job] = deque()
        self._backlog: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []  # worker thread only
        # calls predicted on callers' threads, waiting for the worker to monitor them (lock held)
        self._handed: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        # held around every model call: the model is never called by two threads at once
        self._model_lock = threading.Lock()
        self._counting = False  # the worker is monitoring calls it took out of the lists (lock held)
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="modelops-predict", daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish every queued request, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._started:
            self._thread.join(timeout)

    async def predict(self, rows: npt.NDArray[Any], proba: bool = False) -> Prediction:
        loop = asyncio.get_running_loop()
        if (
            self._settled
            and rows.shape[0] <= self.inline_rows
            and self._pending is not None
            and self._pending() <= 1
        ):
            answered = self.predict_here(rows, proba)
            if answered is not None:
                # Alone in flight is not alone: under load, the loop's next ready tasks are
                # other clients' requests, each alone in flight in turn once this one is
                # answered at once. Until the loop has run what is ready now, requests go to
                # the worker, where they stay in flight and are batched together.
                self._settled = False
                loop.call_soon(self._settle)
                return answered
        future: asyncio.Future[Prediction] = loop.create_future()
        job = _Job(rows, proba, future, loop)
        with self._cond:
            if self._stopping:
                raise BatcherStoppedError("the server is shutting down")
            self._queue.append(job)
            self._cond.notify()
        return await future

    def _settle(self) -> None:
        self._settled = True

    def predict_here(self, rows: npt.NDArray[Any], proba: bool = False) -> Prediction | None:
        """Predict on this thread, or None (the caller queues the request) when requests are
        queued or the worker is calling the model: those go first, and the model is never
        called twice at once. Monitoring is handed to the worker."""
        with self._cond:
            if self._stopping:
                raise BatcherStoppedError("the server is shutting down")
            if self._queue or len(self._handed) >= _HANDED_LIMIT or not self._model_lock.acquire(blocking=False):
                return None
        try:
            predictions = self.model.predict(rows)
            probabilities = self.model.predict_proba(rows) if proba else None
        finally:
            self._model_lock.release()
        if self._on_batch is not None:
            with self._cond:
                handed = not self._stopping  # (stop() may have come while predicting)
                if handed:
                    self._handed.append((rows, predictions))
                    # the first wakes the worker to start the clock, the limit to count them
                    if len(self._handed) in (1, _BACKLOG_LIMIT):
                        self._cond.notify()
            if not handed:  # the worker may have monitored its last: this call is counted here
                self._monitor([(rows, predictions)])
        return Prediction(predictions, probabilities)

    def caught_up(self) -> bool:
        """Whether monitoring has counted every call answered so far (it follows the
        answers by up to ``_HANDED_SECONDS``): what tests wait for before reading counts."""
        with self._cond:
            return not (self._queue or self._handed or self._backlog or self._counting)

    # -- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            # Rows are checked for NaN/infinity by the codec before they get here; this
            # thread-local setting spares scikit-learn checking them again on every call.
            import sklearn

            sklearn.set_config(assume_finite=True)
        except ImportError:  # pragma: no cover - scikit-learn is a dependency
            pass
        while True:
            batch = self._next_batch()
            if batch is None:
                self._flush()
                return
            with self._model_lock:
                self._predict(batch)
            if len(self._backlog) >= _BACKLOG_LIMIT or self._backlog_rows() >= _BACKLOG_ROWS:
                self._flush()

    def _backlog_rows(self) -> int:
        return sum(rows.shape[0] for rows, _ in self._backlog)

    def _flush(self) -> None:
        """Run monitoring for the batches answered since the last flush, and the calls
        handed over by callers' threads, grouped (called without the lock)."""
        with self._cond:
            handed, self._handed = self._handed, []
            backlog, self._backlog = self._backlog, []
            self._counting = True
        try:
            self._monitor(backlog + handed if handed else backlog)
        finally:
            with self._cond:
                self._counting = False

    def _monitor(self, backlog: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]) -> None:
        if self._on_batch is None:
            return
        for rows, predictions, sizes in _groups(backlog):
            try:
                self._on_batch(rows, predictions, sizes)
            except Exception:  # monitoring must never break serving
                log.exception("updating monitoring for %d model call(s), %d rows, failed", len(sizes), rows.shape[0])

    def _take(self, batch: list[_Job], rows: int) -> int:
        """Move queued jobs into ``batch`` while they fit (called with the lock held)."""
        queue = self._queue
        while queue and rows + queue[0].rows.shape[0] <= self.max_batch_size:
            job = queue.popleft()
            batch.append(job)
            rows += job.rows.shape[0]
        return rows

    def _next_batch(self) -> list[_Job] | None:
        with self._cond:
            handed_until: float | None = None  # when calls handed over are monitored at the latest
            while not self._queue:
                if self._stopping:
                    return None
                flush = False
                if self._backlog:
                    # Monitoring runs once the worker is idle, after a short wait that
                    # releases the GIL so the event loop sends the answers first.
                    self._cond.wait(_YIELD_SECONDS)
                    flush = not self._queue
                elif self._handed:
                    now = time.monotonic()
                    if handed_until is None:
                        handed_until = now + _HANDED_SECONDS
                    if len(self._handed) >= _BACKLOG_LIMIT or now >= handed_until:
                        flush = True
                    else:
                        self._cond.wait(handed_until - now)
                else:
                    self._cond.wait()
                if flush:
                    handed_until = None
                    self._cond.release()
                    try:
                        self._flush()
                    finally:
                        self._cond.acquire()
            first = self._queue.popleft()
            batch = [first]
            rows = self._take(batch, first.rows.shape[0])
            if self.max_latency <= 0 or rows >= self.max_batch_size or self._pending is None:
                return batch
            deadline = time.monotonic() + self.max_latency
            # Wait only while requests are in flight that are not in this batch yet.
            while rows < self.max_batch_size and self._pending() > len(batch) and not self._stopping:
                if self._queue:
                    before = len(batch)
                    rows = self._take(batch, rows)
                    if len(batch) == before:  # the next job does not fit: batch is full
                        break
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return batch

    def _predict(self, batch: list[_Job]) -> None:
        rows = batch[0].rows if len(batch) == 1 else np.concatenate([j.rows for j in batch])
        want_proba = any(j.proba for j in batch)
        try:
            predictions = self.model.predict(rows)
            probabilities = self.model.predict_proba(rows) if want_proba else None
        except Exception as exc:
            if len(batch) > 1:
                # One request's rows broke the model: predict the others on their own so
                # the fault stays with the request that caused it.
                for job in batch:
                    self._predict([job])
                return
            _resolve_all([(batch[0], exc)])
            return
        outcomes: list[tuple[_Job, Prediction | BaseException]] = []
        start = 0
        for job in batch:
            end = start + job.rows.shape[0]
            proba = probabilities[start:end] if probabilities is not None and job.proba else None
            outcomes.append((job, Prediction(predictions[start:end], proba)))
            start = end
        if self._on_batch is not None:  # before the answers: a caller that has one sees it due
            self._backlog.append((rows, predictions))
        _resolve_all(outcomes)


def _groups(
    backlog: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]],
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any], list[int]]]:
    """Consecutive calls joined while they hold at most ``_GROUP_ROWS`` rows together (and
    their arrays can be joined): (rows, predictions, rows per call)."""
    groups: list[tuple[npt.NDArray[Any], npt.NDArray[Any], list[int]]] = []
    run: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
    total = 0

    def close() -> None:
        if len(run) == 1:
            groups.append((run[0][0], run[0][1], [run[0][0].shape[0]]))
        elif run:
            try:
                rows = np.concatenate([r for r, _ in run])
                predictions = np.concatenate([p for _, p in run])
            except ValueError:  # shapes that do not join (not from one model): one by one
                groups.extend((r, p, [r.shape[0]]) for r, p in run)
            else:
                groups.append((rows, predictions, [r.shape[0] for r, _ in run]))
        run.clear()

    for rows, predictions in backlog:
        if run and total + rows.shape[0] > _GROUP_ROWS:
            close()
            total = 0
        run.append((rows, predictions))
        total += rows.shape[0]
    close()
    return groups


def _resolve_all(outcomes: list[tuple[_Job, Prediction | BaseException]]) -> None:
    """Hand results to their event loops: one wake-up per loop and batch, not per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Prediction | BaseException]]] = {}
    for job, outcome in outcomes:
        by_loop.setdefault(job.loop, []).append((job, outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_set_all, items)


def _set_all(items: list[tuple[_Job, Prediction | BaseException]]) -> None:
    for job, outcome in items:
        if job.future.done():  # the client went away and the request was cancelled
            continue
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)

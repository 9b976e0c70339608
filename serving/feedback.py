"""Remembered predictions by request id, scored when true labels arrive later.

The store is bounded three ways, oldest requests forgotten first: by requests, by rows
and by the bytes it holds (which it accounts itself, so the bound does not depend on
the allocator). A request over ``max_request_rows`` is not remembered at all (the caller
says so in its response): one huge request must not flush everyone else's predictions.
Predictions are kept compact: one small unsigned integer per row indexing the request's
distinct label keys, never a Python object per row.

Each request is scored once: a scored request moves to a bounded record of scored ids
(``capacity`` of them, oldest forgotten first; ~250 bytes each), so a retried feedback call
is answered with the first call's figures and ``already_scored`` and never counts twice. A
request may also be known by the id its client chose (an *alias* of the server's id), kept
as long as the request or its scored record is. Accuracy is rolling over the last
``accuracy_window`` labelled rows of each model version, alongside all-time totals.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


class FeedbackError(ValueError):
    """Feedback that cannot be scored; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def label_key(value: Any) -> str:
    """One spelling per label: 1, 1.0 and "1" are the same class (JSON loses the type)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    return str(value.item() if isinstance(value, np.generic) else value)


@dataclass(frozen=True)
class Scored:
    version: str
    rows: int
    correct: int
    rolling_accuracy: float | None
    rolling_samples: int
    request_id: str = ""  # the server's id of the scored request
    already_scored: bool = False  # a retry: nothing was counted this time


_SCORING = -1  # a _Done's ``correct`` while its labels are being compared


@dataclass(frozen=True, slots=True)
class _Done:
    """What a scored request is remembered by: its first answer, for retries."""

    version: str
    rows: int
    correct: int
    alias: str | None


class _Rolling:
    def __init__(self, window: int) -> None:
        self.hits: deque[bool] = deque(maxlen=window)
        self.correct = 0  # over `hits`
        self.total_rows = 0  # all time
        self.total_correct = 0

    def add(self, hits: list[bool]) -> None:
        for hit in hits:
            if len(self.hits) == self.hits.maxlen and self.hits[0]:
                self.correct -= 1
            self.hits.append(hit)
            self.correct += hit
        self.total_rows += len(hits)
        self.total_correct += sum(hits)

    @property
    def accuracy(self) -> float | None:
        return self.correct / len(self.hits) if self.hits else None


# What one remembered request costs beyond its codes, id and keys: the entry object, the
# array header and the OrderedDict slot and link (tracemalloc: 300-380 bytes, dict growth
# included; tests/serving/test_feedback_store.py checks it stays an upper bound).
_ENTRY_OVERHEAD = 400


@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    codes: npt.NDArray[np.unsignedinteger[Any]]  # per row: index into ``keys``
    keys: tuple[str, ...]  # the request's distinct predictions, as label keys
    nbytes: int  # accounted size of this entry (see ``_ENTRY_OVERHEAD``)
    alias: str | None  # the id the client chose, if any


def _factorize(predictions: npt.NDArray[Any]) -> tuple[npt.NDArray[np.unsignedinteger[Any]], tuple[str, ...]]:
    """(codes, keys) with ``keys[codes[i]] == label_key(predictions[i])``."""
    flat = predictions.reshape(-1)
    if flat.size == 1:
        # The common one-row request: np.unique's sort and bookkeeping cost ~20 µs, most of
        # what remembering a request costs; this is the same (codes [0], the one key).
        return np.zeros(1, dtype=np.uint8), (label_key(flat.tolist()[0]),)
    if flat.dtype.kind in "biufUS":
        uniques, inverse = np.unique(flat, return_inverse=True)
        values = uniques.tolist()
    else:  # objects: a dict, without sorting mixed types (keyed by type: True == 1)
        index: dict[tuple[type, Any], int] = {}
        inverse = np.fromiter(
            (index.setdefault((type(v), v), len(index)) for v in flat.tolist()), np.intp, flat.size
        )
        values = [v for _, v in index]
    keys: dict[str, int] = {}
    remap = np.fromiter((keys.setdefault(label_key(v), len(keys)) for v in values), np.intp, len(values))
    codes = remap[inverse.reshape(-1)] if len(keys) != len(values) else inverse.reshape(-1)
    dtype = np.min_scalar_type(max(len(keys) - 1, 0))
    return codes.astype(dtype), tuple(keys)


class FeedbackStore:
    def __init__(
        self,
        capacity: int = 100_000,
        accuracy_window: int = 10_000,
        *,
        max_rows: int = 1_000_000,
        max_bytes: int = 64 << 20,
        max_request_rows: int = 65_536,
    ) -> None:
        for name, value in (("capacity", capacity), ("accuracy_window", accuracy_window),
                            ("max_rows", max_rows), ("max_bytes", max_bytes),
                            ("max_request_rows", max_request_rows)):  # fmt: skip
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        self.capacity = capacity
        self.accuracy_window = accuracy_window
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_request_rows = min(max_request_rows, max_rows)
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, _Entry] = OrderedDict()
        self._rows = 0
        self._bytes = 0
        self._rolling: dict[str, _Rolling] = {}
        self._done: OrderedDict[str, _Done] = OrderedDict()  # scored ids, at most ``capacity``
        self._aliases: dict[str, str] = {}  # client's id -> server's id (pending or done)

    @property
    def rows(self) -> int:
        """Rows remembered now (at most ``max_rows``)."""
        return self._rows

    @property
    def nbytes(self) -> int:
        """Bytes the remembered requests hold, as accounted (at most ``max_bytes``)."""
        return self._bytes

    def refusal(self, rows: int) -> str | None:
        """Why a request of ``rows`` rows would not be remembered, or None if it would."""
        if rows > self.max_request_rows:
            return f"not-stored: {rows} rows > limit {self.max_request_rows}"
        return None

    def remember(
        self, request_id: str, version: str, predictions: npt.NDArray[Any], alias: str | None = None
    ) -> str | None:
        """Remember a request's predictions for scoring, also under ``alias`` (the client's
        own id; the latest request wins it); None when remembered, else the reason it was
        not (``not-stored: …``), to tell the client."""
        rows = int(predictions.shape[0]) if predictions.ndim else 1
        refused = self.refusal(rows)
        if refused is not None:
            return refused
        codes, keys = _factorize(predictions)
        nbytes = (
            _ENTRY_OVERHEAD + sys.getsizeof(request_id) + codes.nbytes
            + sys.getsizeof(keys) + sum(sys.getsizeof(k) for k in keys)
        )  # fmt: skip
        if alias is not None:
            nbytes += sys.getsizeof(alias) + 100  # the alias and its dict slot
        if nbytes > self.max_bytes:
            return f"not-stored: {nbytes} bytes > limit {self.max_bytes}"
        entry = _Entry(version, codes, keys, nbytes, alias)
        with self._lock:
            self._drop(request_id)
            self._pending[request_id] = entry
            if alias is not None:
                self._aliases[alias] = request_id
            self._rows += rows
            self._bytes += nbytes
            while (
                len(self._pending) > self.capacity or self._rows > self.max_rows or self._bytes > self.max_bytes
            ):
                self._drop(next(iter(self._pending)))
        return None

    def forget(self, request_id: str) -> None:
        """Drop a remembered request (one whose answer could not be sent)."""
        with self._lock:
            self._drop(request_id)

    def _drop(self, request_id: str, keep_alias: bool = False) -> None:  # with the lock held
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            self._rows -= entry.codes.size
            self._bytes -= entry.nbytes
            if not keep_alias:
                self._unalias(entry.alias, request_id)

    def _unalias(self, alias: str | None, request_id: str) -> None:  # with the lock held
        if alias is not None and self._aliases.get(alias) == request_id:
            del self._aliases[alias]

    def holds(self, request_id: str) -> bool:
        """Whether this store answers for the id: remembered, scored, or a client's alias."""
        with self._lock:
            return request_id in self._pending or request_id in self._done or request_id in self._aliases

    def score(self, request_id: str, labels: list[Any]) -> Scored:
        with self._lock:
            request_id = self._aliases.get(request_id, request_id)
            entry = self._pending.get(request_id)
            if entry is None:
                done = self._done.get(request_id)
                if done is not None:
                    return self._again(request_id, done)
                raise FeedbackError(
                    404,
                    f"no remembered prediction for request id {request_id!r}: unknown, not stored "
                    f"(over {self.max_request_rows} rows), or forgotten (the store keeps the last "
                    f"{self.capacity} requests, {self.max_rows} rows, {self.max_bytes} bytes, and "
                    f"the last {self.capacity} scored ids)",
                )
            predicted = entry.codes.size
            if len(labels) != predicted:
                raise FeedbackError(
                    400,
                    f"request {request_id!r} predicted {predicted} row(s); feedback gives "
                    f"{len(labels)} label(s)",
                )
            # taken out and marked in one step: a concurrent retry finds it scored (or being
            # scored), never pending, so it cannot count twice
            self._drop(request_id, keep_alias=True)
            self._done[request_id] = _Done(entry.version, predicted, _SCORING, entry.alias)
            while len(self._done) > self.capacity:
                old_id, old = self._done.popitem(last=False)
                self._unalias(old.alias, old_id)
        # compared outside the lock: a long list of labels must not hold up remember()
        index = {k: i for i, k in enumerate(entry.keys)}
        given = np.fromiter((index.get(label_key(t), -1) for t in labels), np.intp, len(labels))
        hits = (given == entry.codes).tolist()
        correct = sum(hits)
        with self._lock:
            if request_id in self._done:
                self._done[request_id] = _Done(entry.version, len(hits), correct, entry.alias)
            rolling = self._rolling.setdefault(entry.version, _Rolling(self.accuracy_window))
            rolling.add(hits)
            return Scored(
                version=entry.version,
                rows=len(hits),
                correct=correct,
                rolling_accuracy=rolling.accuracy,
                rolling_samples=len(rolling.hits),
                request_id=request_id,
            )

    def _again(self, request_id: str, done: _Done) -> Scored:  # with the lock held
        """A retry of scored feedback: the first answer's figures, nothing counted."""
        if done.correct == _SCORING:
            raise FeedbackError(
                409, f"feedback for request id {request_id!r} is being scored right now; retry for its figures"
            )
        rolling = self._rolling.get(done.version)
        return Scored(
            version=done.version,
            rows=done.rows,
            correct=done.correct,
            rolling_accuracy=rolling.accuracy if rolling is not None else None,
            rolling_samples=len(rolling.hits) if rolling is not None else 0,
            request_id=request_id,
            already_scored=True,
        )

    def accuracy(self, version: str) -> tuple[float | None, int]:
        """(rolling accuracy, labelled rows it covers) of a version."""
        with self._lock:
            rolling = self._rolling.get(version)
            if rolling is None:
                return None, 0
            return rolling.accuracy, len(rolling.hits)

    def __len__(self) -> int:
        return len(self._pending)

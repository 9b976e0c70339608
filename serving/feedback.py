"""Remembered predictions by request id, scored when true labels arrive later.

The store is bounded (oldest requests forgotten first) and each request can be scored
once, so a retried feedback call cannot count twice. Accuracy is rolling over the last
``accuracy_window`` labelled rows of each model version, alongside all-time totals.
"""

from __future__ import annotations

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


class FeedbackStore:
    def __init__(self, capacity: int = 100_000, accuracy_window: int = 10_000) -> None:
        if capacity < 1 or accuracy_window < 1:
            raise ValueError("capacity and accuracy_window must be positive")
        self.capacity = capacity
        self.accuracy_window = accuracy_window
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()
        self._rolling: dict[str, _Rolling] = {}

    def remember(self, request_id: str, version: str, predictions: npt.NDArray[Any]) -> None:
        keys = [label_key(v) for v in predictions.tolist()]
        with self._lock:
            self._pending[request_id] = (version, keys)
            self._pending.move_to_end(request_id)
            while len(self._pending) > self.capacity:
                self._pending.popitem(last=False)

    def score(self, request_id: str, labels: list[Any]) -> Scored:
        with self._lock:
            entry = self._pending.get(request_id)
            if entry is None:
                raise FeedbackError(
                    404,
                    f"no remembered prediction for request id {request_id!r}: unknown, already "
                    f"scored, or older than the last {self.capacity} requests",
                )
            version, predicted = entry
            if len(labels) != len(predicted):
                raise FeedbackError(
                    400,
                    f"request {request_id!r} predicted {len(predicted)} row(s); feedback gives "
                    f"{len(labels)} label(s)",
                )
            del self._pending[request_id]
            hits = [label_key(t) == p for t, p in zip(labels, predicted, strict=True)]
            rolling = self._rolling.setdefault(version, _Rolling(self.accuracy_window))
            rolling.add(hits)
            return Scored(
                version=version,
                rows=len(hits),
                correct=sum(hits),
                rolling_accuracy=rolling.accuracy,
                rolling_samples=len(rolling.hits),
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

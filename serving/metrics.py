"""Prometheus metrics of one serving app, in its own registry (so two apps in one process,
as in tests, never share counters). Labels stay low-cardinality: model and version, plus
the status code of requests and the class of predictions (both small, bounded sets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from modelops.serving.feedback import label_key

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_CHUNK = 1 << 16  # predictions per np.unique call
_FEW = 256  # up to this many predictions, counted by class in a dict rather than np.unique
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The serving pod's metrics; the operator's analysis reads the same names."""

    def __init__(self, model: str, version: str, shadow_candidate: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter(
            "modelops_requests", "Inference requests by HTTP status code",
            (*labels, "code"), registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "modelops_request_duration_seconds", "Inference request latency, seconds",
            labels, buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "modelops_batch_size", "Rows per model call", labels,
            buckets=_BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "modelops_inflight_requests", "Inference requests being served", labels, registry=self.registry
        )
        self.predictions = Counter(
            "modelops_predictions", "Predicted rows by class (all rows for regressors)",
            (*labels, "class"), registry=self.registry,
        )  # fmt: skip
        self.rows = Counter("modelops_rows", "Predicted rows", labels, registry=self.registry)
        self.feedback_rows = Counter(
            "modelops_feedback_rows", "Rows scored against true labels", labels, registry=self.registry
        )
        self.feedback_correct = Counter(
            "modelops_feedback_correct", "Scored rows predicted correctly", labels, registry=self.registry
        )
        self.accuracy = Gauge(
            "modelops_rolling_accuracy", "Accuracy over recent labelled rows (NaN before any feedback)",
            labels, registry=self.registry,
        )  # fmt: skip
        self.ready = Gauge("modelops_ready", "1 once the model is loaded and verified", labels,
                           registry=self.registry)  # fmt: skip
        self._labels = (model, version)
        # Children bound once: a labelled lookup per request costs more than the update.
        self.latency_child = self.latency.labels(*self._labels)
        self.batch_child = self.batch_size.labels(*self._labels)
        self.in_flight_child = self.in_flight.labels(*self._labels)
        self.rows_child = self.rows.labels(*self._labels)
        self.accuracy.labels(*self._labels).set(float("nan"))
        self.ready.labels(*self._labels).set(0)
        self._codes: dict[int, Any] = {}
        self._classes: dict[Any, Any] = {}  # raw prediction value -> child
        # Shadow metrics exist only on a pod that mirrors: absent elsewhere, so analysis
        # tells "not mirroring" from "mirrored nothing yet" (names in operator/analysis/names.py).
        self.shadow: ShadowMetrics | None = (
            ShadowMetrics(self.registry, model, version, shadow_candidate) if shadow_candidate else None
        )

    def request(self, code: int, seconds: float) -> None:
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = self.requests.labels(*self._labels, str(code))
        child.inc()
        self.latency_child.observe(seconds)

    def batch(
        self, predictions: npt.NDArray[Any], classification: bool, sizes: Sequence[int] | None = None
    ) -> None:
        """Model calls: batch sizes (``sizes``, the rows of each call whose predictions are
        joined in ``predictions``; default one call), rows and per-class counts, vectorised."""
        n = int(predictions.shape[0])
        for size in sizes if sizes is not None else (n,):
            self.batch_child.observe(size)
        self.rows_child.inc(n)
        if not classification:
            return
        if n == 1:  # the common single-row batch: no np.unique
            self._class_child(predictions[0]).inc()
            return
        if n <= _FEW:
            # np.unique's sort and set-up cost ~30 µs; a dict over a few values, ~2 µs
            # (grouped by equality, as np.unique groups them)
            seen: dict[Any, int] = {}
            for value in predictions.tolist():
                seen[value] = seen.get(value, 0) + 1
            for value, count in seen.items():
                self._class_child(value).inc(count)
            return
        # in pieces: this runs in the predicting thread, which must not hold the GIL long
        for i in range(0, n, _CHUNK):
            values, counts = np.unique(predictions[i : i + _CHUNK], return_counts=True)
            for value, count in zip(values, counts.tolist(), strict=True):
                self._class_child(value).inc(count)

    def _class_child(self, value: Any) -> Any:
        raw = value.item() if isinstance(value, np.generic) else value
        child = self._classes.get(raw)
        if child is None:
            child = self._classes[raw] = self.predictions.labels(*self._labels, label_key(raw))
        return child

    def feedback(self, rows: int, correct: int, rolling_accuracy: float | None) -> None:
        self.feedback_rows.labels(*self._labels).inc(rows)
        self.feedback_correct.labels(*self._labels).inc(correct)
        if rolling_accuracy is not None:
            self.accuracy.labels(*self._labels).set(rolling_accuracy)

    def set_ready(self, ready: bool) -> None:
        self.ready.labels(*self._labels).set(1 if ready else 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_SHADOW_OUTCOMES = ("answered", "error", "dropped")


class ShadowMetrics:
    """A stable pod's view of the candidate it mirrors to (labels model, version, candidate)."""

    def __init__(self, registry: CollectorRegistry, model: str, version: str, candidate: str) -> None:
        labels = ("model", "version", "candidate")
        values = (model, version, candidate)
        requests = Counter(
            "modelops_shadow_requests", "Mirrored requests by outcome (answered, error, dropped)",
            (*labels, "outcome"), registry=registry,
        )  # fmt: skip
        self.outcomes = {o: requests.labels(*values, o) for o in _SHADOW_OUTCOMES}
        self.rows = Counter(
            "modelops_shadow_rows", "Rows both versions predicted and were compared", labels, registry=registry
        ).labels(*values)
        self.agreed = Counter(
            "modelops_shadow_agreed_rows", "Compared rows where the candidate agreed with this version",
            labels, registry=registry,
        ).labels(*values)  # fmt: skip
        self.latency = Histogram(
            "modelops_shadow_duration_seconds", "The candidate's answer time to mirrored requests, seconds",
            labels, buckets=_LATENCY_BUCKETS, registry=registry,
        ).labels(*values)  # fmt: skip

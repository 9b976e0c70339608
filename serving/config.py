"""The serving pod's settings (the ``modelops serve`` options), as one value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingConfig:
    model_dir: Path | None = None
    model_name: str | None = None  # default: the artifact directory's name
    model_version: str | None = None  # default: the first 12 digits of the artifact sha256
    expected_sha256: str | None = None
    trusted: bool = False
    allow_version_skew: bool = False
    max_batch_size: int = 32
    max_batch_latency_ms: float = 2.0
    max_concurrency: int = 256
    drift_bucket_seconds: int = 60
    drift_window_seconds: int = 3600
    max_body_bytes: int = 8 << 20
    feedback_capacity: int = 100_000  # requests remembered for feedback
    feedback_max_rows: int = 1_000_000  # rows remembered, over all requests
    feedback_max_bytes: int = 64 << 20  # bytes the feedback store holds (its own accounting)
    feedback_max_request_rows: int = 65_536  # larger requests are answered, not remembered
    # Bytes of request bodies being read or served at once; past it, 503 + Retry-After.
    # A body costs several times its size while decoded (rows, predictions, response).
    max_inflight_body_bytes: int = 32 << 20
    # Bodies (or predictions) at least this large are decoded (encoded) in a worker
    # thread, off the event loop; smaller ones stay inline, where a hop costs more.
    offload_body_bytes: int = 64 << 10
    offload_rows: int = 4096
    accuracy_window: int = 10_000
    # False: scikit-learn's predict even where a direct predictor is proven equal (what the
    # serving benchmark compares batching on and off with, as for models without one).
    direct_predictors: bool = True
    retry_after_seconds: int = 1
    # Routable feedback ids (see feedback_ids.py): this replica's reachable host:port, and
    # the key every replica of the deployment shares (None: a key of this process alone).
    advertise_address: str | None = None
    feedback_key: bytes | None = None
    feedback_forward_timeout_seconds: float = 2.0
    # Shadow mirroring (see shadow.py): off unless shadow_url is set.
    shadow_url: str | None = None
    shadow_percent: float = 0.0
    shadow_version: str | None = None
    shadow_queue: int = 64  # mirrored requests waiting at most (then dropped, counted)
    shadow_queue_bytes: int = 16 << 20  # their bodies' bytes at most
    shadow_workers: int = 4
    shadow_timeout_seconds: float = 5.0
    shadow_tolerance: float = 1e-6  # regressors: relative difference still counted as agreeing

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_concurrency", "drift_bucket_seconds", "max_body_bytes",
                     "feedback_capacity", "feedback_max_rows", "feedback_max_bytes",
                     "feedback_max_request_rows", "max_inflight_body_bytes", "accuracy_window"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_inflight_body_bytes < self.max_body_bytes:
            raise ValueError(
                f"max_inflight_body_bytes ({self.max_inflight_body_bytes}) must hold at least one "
                f"body of max_body_bytes ({self.max_body_bytes})"
            )
        if self.shadow_url is not None:
            if not 0 < self.shadow_percent <= 100:
                raise ValueError(f"shadow_percent must be in (0, 100], got {self.shadow_percent}")
            if not self.shadow_version:
                raise ValueError("shadow_url needs shadow_version: the candidate version mirrored to")
            if not self.shadow_url.startswith(("http://", "https://")):
                raise ValueError(f"shadow_url must be an http:// or https:// URL, got {self.shadow_url!r}")
            for name in ("shadow_queue", "shadow_queue_bytes", "shadow_workers"):
                if getattr(self, name) < 1:
                    raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
            if self.shadow_timeout_seconds <= 0:
                raise ValueError(f"shadow_timeout_seconds must be positive, got {self.shadow_timeout_seconds}")
        if self.max_batch_latency_ms < 0:
            raise ValueError(f"max_batch_latency_ms must not be negative, got {self.max_batch_latency_ms}")
        if self.drift_window_seconds < self.drift_bucket_seconds:
            raise ValueError(
                f"the drift window ({self.drift_window_seconds}s) must hold at least one bucket "
                f"({self.drift_bucket_seconds}s)"
            )

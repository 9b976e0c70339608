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
    feedback_capacity: int = 100_000
    accuracy_window: int = 10_000
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_concurrency", "drift_bucket_seconds", "max_body_bytes",
                     "feedback_capacity", "accuracy_window"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_batch_latency_ms < 0:
            raise ValueError(f"max_batch_latency_ms must not be negative, got {self.max_batch_latency_ms}")
        if self.drift_window_seconds < self.drift_bucket_seconds:
            raise ValueError(
                f"the drift window ({self.drift_window_seconds}s) must hold at least one bucket "
                f"({self.drift_bucket_seconds}s)"
            )

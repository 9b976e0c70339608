"""The trainer's failures, each with a CamelCase reason that ends up in its result (the
Job's termination message) and so in the DriftPolicy's ``lastRetrain`` condition."""

from __future__ import annotations


class TrainingError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

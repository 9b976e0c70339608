"""The one error type of the artifact package, carrying a ModelVersion condition reason."""

from __future__ import annotations

from typing import Literal, get_args

# The reasons are those of the ModelVersion `ArtifactVerified` condition, so the operator
# can copy `reason` and `message` into status as they are.
Reason = Literal[
    "DigestMismatch",
    "ArtifactNotFound",
    "UnsupportedFormat",
    "UntrustedFormat",
    "UntrustedType",
    "ArtifactUnreachable",
    "InvalidArtifact",
    "VersionSkew",
    "InvalidSpec",
]
REASONS: tuple[str, ...] = get_args(Reason)


class ArtifactError(Exception):
    """An artifact that cannot be fetched, verified or loaded.

    ``reason`` is a CamelCase condition reason; ``message`` names the file, uri or the
    expected and actual digests, so it can be shown to a user without more context.
    """

    def __init__(self, reason: Reason, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown artifact error reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message

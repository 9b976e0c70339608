"""The one error type of the serving layers: an HTTP status and a message for the client."""

from __future__ import annotations


class ServingError(Exception):
    """A request the server refuses; ``message`` names the feature, shape or limit at fault.

    The data plane raises it without knowing about HTTP frameworks; the routes turn it
    into ``{"error": message}`` with ``status`` (and ``headers``, e.g. ``Retry-After``).
    """

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ServingError:
    return ServingError(400, message)


def not_found(message: str) -> ServingError:
    return ServingError(404, message)


def unavailable(message: str, retry_after_seconds: int = 1) -> ServingError:
    return ServingError(503, message, {"Retry-After": str(retry_after_seconds)})

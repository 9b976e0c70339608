"""The bytes of request bodies a server holds at once, bounded.

A body costs several times its size while it is decoded into rows, predicted and
encoded, so bodies in flight (not only their number) are what bounds the server's
memory. Past the budget a request is refused at once with 503 and ``Retry-After``, like
any other overload (no queue that grows with the load). Used from the event loop only,
so it needs no lock.
"""

from __future__ import annotations

from modelops.serving.errors import ServingError, unavailable


class BodyBudget:
    def __init__(self, limit: int, retry_after_seconds: int = 1) -> None:
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        self.limit = limit
        self.used = 0
        self.retry_after_seconds = retry_after_seconds

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes, or raise 503 (holding nothing more) if over the limit."""
        if self.used + size > self.limit:
            raise self._overloaded(size)
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size

    def _overloaded(self, size: int) -> ServingError:
        return unavailable(
            f"overloaded: request bodies of {self.used} bytes are being served and this one brings "
            f"{size} more; the limit is {self.limit} bytes",
            self.retry_after_seconds,
        )

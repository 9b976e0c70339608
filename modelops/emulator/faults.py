"""Fault injection for tests: make the next N matching requests fail.

    faults.add("PATCH", r"/modeldeployments/churn/status$", status=409, times=2)
    faults.add("GET", r"/apis/apps/v1/.*", status=500, retry_after=1)

A rule matches on the HTTP method (or "*") and a regular expression searched in the
request path (with the query string, if `with_query`). Matching requests are answered
with a `Status` error of that code (`Conflict` for 409, `TooManyRequests` for 429,
`InternalError` for 5xx) before reaching the API; each rule is used up after `times`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from modelops.emulator.errors import ApiError

_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 410: "Expired",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    remaining: int
    retry_after: int | None = None
    message: str = ""
    with_query: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method == method.upper()) and self.path.search(path) is not None

    def error(self) -> ApiError:
        reason = _REASONS.get(self.status, "InternalError" if self.status >= 500 else "BadRequest")
        message = self.message or f"injected fault: {self.status} {reason} for {self.method} {self.path.pattern}"
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        details = {"retryAfterSeconds": self.retry_after} if self.retry_after is not None else {}
        return ApiError(self.status, reason, message, details, headers)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(self, method: str, path: str, *, status: int = 500, times: int = 1, retry_after: int | None = None,
            message: str = "", with_query: bool = False) -> Fault:
        """Fail the next `times` requests of `method` whose path matches the regex `path`."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if status < 400:
            raise ValueError(f"an injected fault must be an error status (>= 400), got {status}")
        fault = Fault(method.upper(), re.compile(path), status, times, retry_after, message, with_query)
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(self, method: str, path: str, query: str) -> ApiError | None:
        """The error for this request, if a rule matches (using one of its remaining times)."""
        with self._lock:
            for fault in self._rules:
                target = f"{path}?{query}" if fault.with_query and query else path
                if fault.remaining > 0 and fault.matches(method, target):
                    fault.remaining -= 1
                    fault.hits += 1
                    if fault.remaining == 0:
                        self._rules.remove(fault)
                    return fault.error()
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

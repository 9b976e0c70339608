"""Fault injection for tests: make matching requests fail, or run something just before them.

    faults.add("PATCH", r"/modeldeployments/churn/status$", status=409, times=2)
    faults.add("GET", r"/apis/apps/v1/.*", status=500, retry_after=1)
    faults.add(WRITES, r"/namespaces/default/", status=409, every=4, times=None)  # a share, until cleared
    faults.before("PATCH", r"/modeldeployments/churn/status$", lambda: ...)    # a writer racing the client

A rule matches on the HTTP method (one, several, or "*") and a regular expression searched in
the request path (with the query string, if `with_query`). Matching requests are answered
with a `Status` error of that code (`Conflict` for 409, `TooManyRequests` for 429,
`InternalError` for 5xx) before reaching the API. With `every=N` a rule fails one in N of
the requests it sees (the Nth, 2Nth, ...), so a share of a client's requests fails while
its retries get through; a rule is used up after `times` failures (`None`: never, until
`clear()`). Rules are consulted in the order they were added, and a rule counts only the
requests no earlier rule failed.

A hook (`before`) fails nothing: it runs a function right before a matching request
reaches the API (outside the rules' lock, in the server's thread), which puts another
client's write deterministically between a client's read and its write.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modelops.emulator.errors import ApiError

_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 410: "Expired",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}
# The methods that change something: `add(WRITES, ...)` fails a share of a client's writes.
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _methods(method: str | Iterable[str]) -> frozenset[str]:
    names = [method] if isinstance(method, str) else list(method)
    if not names:
        raise ValueError("a fault needs at least one HTTP method (or '*')")
    return frozenset(name.upper() for name in names)


@dataclass
class Fault:
    methods: frozenset[str]
    path: re.Pattern[str]
    status: int
    remaining: int  # failures left (unused when `endless`)
    retry_after: int | None = None
    message: str = ""
    with_query: bool = False
    hits: int = 0
    every: int = 1
    seen: int = 0  # matching requests this rule was asked about (for `every`)
    endless: bool = False  # added with times=None: fails until cleared

    @property
    def method(self) -> str:
        return ",".join(sorted(self.methods))

    def matches(self, method: str, path: str) -> bool:
        return ("*" in self.methods or method.upper() in self.methods) and self.path.search(path) is not None

    def error(self) -> ApiError:
        reason = _REASONS.get(self.status, "InternalError" if self.status >= 500 else "BadRequest")
        message = self.message or f"injected fault: {self.status} {reason} for {self.method} {self.path.pattern}"
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        details = {"retryAfterSeconds": self.retry_after} if self.retry_after is not None else {}
        return ApiError(self.status, reason, message, details, headers)


@dataclass
class Hook:
    method: str
    path: re.Pattern[str]
    action: Callable[[], object]
    remaining: int
    hits: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._hooks: list[Hook] = []

    def add(self, method: str | Iterable[str], path: str, *, status: int = 500, times: int | None = 1,
            retry_after: int | None = None, message: str = "", with_query: bool = False, every: int = 1) -> Fault:
        """Fail `times` requests (None: every one until cleared) of `method` whose path matches the
        regex `path`; with `every=N`, only one in N of them (the Nth, the 2Nth, ...)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None: until cleared), got {times}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        if status < 400:
            raise ValueError(f"an injected fault must be an error status (>= 400), got {status}")
        fault = Fault(_methods(method), re.compile(path), status, times or 0, retry_after, message, with_query,
                      every=every, endless=times is None)
        with self._lock:
            self._rules.append(fault)
        return fault

    def before(self, method: str, path: str, action: Callable[[], object], *, times: int = 1) -> Hook:
        """Run `action` right before the next `times` requests of `method` matching `path`."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        hook = Hook(method.upper(), re.compile(path), action, times)
        with self._lock:
            self._hooks.append(hook)
        return hook

    def take(self, method: str, path: str, query: str) -> ApiError | None:
        """The error for this request, if a rule matches (using one of its remaining times);
        first the hooks matching it run."""
        for hook in self._due_hooks(method, path):
            hook.action()
        with self._lock:
            for fault in self._rules:
                target = f"{path}?{query}" if fault.with_query and query else path
                if (fault.endless or fault.remaining > 0) and fault.matches(method, target):
                    fault.seen += 1
                    if fault.seen % fault.every:
                        continue
                    fault.hits += 1
                    if not fault.endless:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._rules.remove(fault)
                    return fault.error()
        return None

    def _due_hooks(self, method: str, path: str) -> list[Hook]:
        with self._lock:
            due = [h for h in self._hooks if h.method in ("*", method.upper()) and h.path.search(path)]
            for hook in due:
                hook.remaining -= 1
                hook.hits += 1
                if hook.remaining == 0:
                    self._hooks.remove(hook)
            return due

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._hooks.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

"""The demo's clients: a steady stream of requests through the Service's ClusterIP, with the
true labels sent later as feedback, and a count of which version answered each request.

Bounded: it stops when asked or after ``max_seconds``, and only ever talks to a loopback
address (the sandbox's ClusterIPs are on 127.0.0.0/8).
"""

from __future__ import annotations

import collections
import ipaddress
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from modelops.sandbox.demo.dataset import FEATURES, REFERENCE, TARGET, Population, sample

SHARE_WINDOW_S = 10.0  # the "live" share of answers: requests answered in the last 10 s
CLIENTS = 4  # concurrent clients: a slow answer (two cores shared by every pod) holds back only one


@dataclass
class Tally:
    """What the clients saw, shared with the display thread (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: collections.Counter[str] = field(default_factory=collections.Counter)
    recent: collections.deque[tuple[float, str]] = field(default_factory=collections.deque)
    errors: int = 0
    feedback_sent: int = 0
    feedback_failed: int = 0
    last_error: str = ""

    def answer(self, version: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.answered[version] += 1
            self.recent.append((now, version))
            while self.recent and self.recent[0][0] < now - SHARE_WINDOW_S:
                self.recent.popleft()

    def live_share(self) -> dict[str, float]:
        """Per version, the share of the requests answered in the last SHARE_WINDOW_S seconds."""
        with self.lock:
            counts = collections.Counter(v for _, v in self.recent)
        total = sum(counts.values())
        return {v: c / total for v, c in sorted(counts.items())} if total else {}


def _loopback(base_url: str) -> str:
    host = urlsplit(base_url).hostname or ""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the demo's traffic goes to loopback addresses only, not {host}")
    return base_url.rstrip("/")


class Traffic:
    """Requests of ``rows_per_request`` rows, ``rate`` per second, from the current population;
    each answer's labels posted as feedback ``feedback_delay`` seconds later."""

    def __init__(self, base_url: str, model: str, *, rate: float, rows_per_request: int = 4,
                 feedback_delay: float = 1.0, max_seconds: float = 900.0, seed: int = 11) -> None:
        self.base = _loopback(base_url)
        self.model = model
        self.rate, self.rows_per_request, self.feedback_delay = rate, rows_per_request, feedback_delay
        self.max_seconds = max_seconds
        self.population: Population = REFERENCE
        self.tally = Tally()
        self._rng = np.random.default_rng(seed)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._pending: collections.deque[tuple[float, str, list[int]]] = collections.deque()
        self._pending_lock = threading.Lock()
        # Requests and feedback on their own threads: the labels never hold back the requests.
        self._threads = [threading.Thread(target=self._run, name=f"demo-traffic-{i}", daemon=True)
                         for i in range(CLIENTS)]
        self._threads.append(threading.Thread(target=self._feedback, name="demo-feedback", daemon=True))
        self._rng_lock = threading.Lock()

    def start(self) -> None:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() - self._started < self.max_seconds

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        request = urllib.request.Request(f"{self.base}{path}", data=json.dumps(body).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read()), dict(answer.headers.items())

    def _run(self) -> None:
        period = CLIENTS / self.rate  # each client sends its share of the rate
        next_at = time.monotonic()
        while self._running():
            self._one_request()
            # Behind schedule (a slow answer): carry on from now rather than send a burst.
            next_at = max(next_at + period, time.monotonic() - period)
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _feedback(self) -> None:
        while self._running():
            self._due_feedback(time.monotonic())
            self._stop.wait(0.2)

    def _one_request(self) -> None:
        with self._rng_lock:
            columns = sample(self.population, self.rows_per_request, self._rng)
        n = self.rows_per_request
        inputs = [{"name": name, "shape": [n], "datatype": "INT64" if name == "segment" else "FP64",
                   "data": columns[name].tolist()} for name in FEATURES]
        try:
            answer, headers = self._post(f"/v2/models/{self.model}/infer", {"inputs": inputs})
        except (urllib.error.URLError, OSError, ValueError) as exc:
            with self.tally.lock:
                self.tally.errors += 1
                self.tally.last_error = f"infer: {exc}"
            return
        self.tally.answer(str(answer.get("model_version", "?")))
        feedback_id = {k.lower(): v for k, v in headers.items()}.get("x-feedback-id")
        if feedback_id:
            labels = [int(v) for v in columns[TARGET].tolist()]
            with self._pending_lock:
                self._pending.append((time.monotonic() + self.feedback_delay, feedback_id, labels))

    def _due_feedback(self, now: float) -> None:
        while True:
            with self._pending_lock:
                if not self._pending or self._pending[0][0] > now:
                    return
                _, feedback_id, labels = self._pending.popleft()
            try:
                self._post(f"/v2/models/{self.model}/feedback", {"id": feedback_id, "labels": labels})
                with self.tally.lock:
                    self.tally.feedback_sent += 1
            except (urllib.error.URLError, OSError, ValueError) as exc:
                with self.tally.lock:
                    self.tally.feedback_failed += 1
                    self.tally.last_error = f"feedback: {exc}"

"""The sandbox canary test's clients, and what kubectl's watch of the ModelDeployment saw.

Clients send requests through a Service's ClusterIP and post the true labels of every answer
right after it. Each infer request opens its own connection, so each is one turn of the
sandbox proxy's round robin over the ready pods (the split under test). Feedback goes over one
kept-alive connection per client: it reaches whichever pod that connection landed on, which
forwards it to the pod that predicted, and it takes no turns of the round robin away from the
infer requests (alternating infer and feedback connections over an even number of pods would
send every infer request to the same half of them).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.e2e.canary_models import FEATURES, sample

CLIENTS = 4
FEEDBACK_ATTEMPTS = 5


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer arrived
    version: str


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    feedback_rows: dict[str, int] = field(default_factory=dict)  # scored rows, per version that scored
    feedback_correct: dict[str, int] = field(default_factory=dict)
    misattributed: list[str] = field(default_factory=list)  # feedback scored for another version


class Clients:
    """``rate`` requests per second of ``rows`` rows each, from ``CLIENTS`` threads, to ``host:port``."""

    def __init__(self, host: str, port: int, model: str, *, rate: float, rows: int = 8, seed: int = 17) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the test's traffic goes to loopback addresses only, not {host}")
        self.host, self.port, self.model = host, port, model
        self.period = CLIENTS / rate
        self.rows = rows
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(seed + i,), name=f"canary-client-{i}", daemon=True)
                         for i in range(CLIENTS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        feedback: http.client.HTTPConnection | None = None
        next_at = time.monotonic()
        while not self._stop.is_set():
            x, y = sample(self.rows, rng)
            feedback = self._one(x, [int(v) for v in y], feedback)
            # Behind schedule (a slow answer): carry on from now rather than send a burst.
            next_at = max(next_at + self.period, time.monotonic() - self.period)
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        if feedback is not None:
            feedback.close()

    def _one(self, x: Any, labels: list[int],
             feedback: http.client.HTTPConnection | None) -> http.client.HTTPConnection | None:
        inputs = [{"name": name, "shape": [len(labels)], "datatype": "FP64", "data": x[:, i].tolist()}
                  for i, name in enumerate(FEATURES)]
        infer = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            status, answer, headers = _post(infer, f"/v2/models/{self.model}/infer", {"inputs": inputs})
        except (OSError, http.client.HTTPException) as exc:
            self._error(f"infer: {exc!r}")
            return feedback
        finally:
            infer.close()
        if status != 200:
            self._error(f"infer: HTTP {status} {answer}")
            return feedback
        version = str(answer.get("model_version"))
        with self.tally.lock:
            self.tally.answers.append(Answer(time.monotonic(), version))
        body = {"id": headers.get("x-feedback-id"), "labels": labels}
        for attempt in range(1, FEEDBACK_ATTEMPTS + 1):  # a retried call never counts twice (already_scored)
            if feedback is None:
                feedback = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                status, scored, _ = _post(feedback, f"/v2/models/{self.model}/feedback", body)
                break
            except (OSError, http.client.HTTPException) as exc:
                # The pod this connection reached is stopping (v1 retired, v3 scaled to 0), and a new
                # connection may reach another one of them until the proxy hears: reconnect, a bit later.
                feedback.close()
                feedback = None
                if attempt == FEEDBACK_ATTEMPTS:
                    self._error(f"feedback: {exc!r}")
                    return feedback
                self._stop.wait(0.2 * attempt)
        if status != 200:
            self._error(f"feedback: HTTP {status} {scored}")
            return feedback
        by = str(scored.get("model_version"))
        with self.tally.lock:
            if by != version:
                self.tally.misattributed.append(f"answered by {version}, scored for {by}")
            # One answer per prediction (a retry after a lost answer says already_scored, with the
            # first call's figures): counted once either way.
            self.tally.feedback_rows[by] = self.tally.feedback_rows.get(by, 0) + int(scored["rows"])
            self.tally.feedback_correct[by] = self.tally.feedback_correct.get(by, 0) + int(scored["correct"])
        return feedback

    def _error(self, what: str) -> None:
        with self.tally.lock:
            self.tally.errors.append(what)


def _post(connection: http.client.HTTPConnection, path: str,
          body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    connection.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, json.loads(data) if data else {}, headers


# -- what `kubectl get mdep -w` printed ----------------------------------------------------------

WATCH_COLUMNS = ("STABLE:.status.stable,CANDIDATE:.status.candidate,WEIGHT:.status.weight,"
                 "PHASE:.status.phase,STEP:.status.step")


@dataclass(frozen=True)
class Row:
    at: float  # time.monotonic() when kubectl printed it
    stable: str
    candidate: str
    weight: int | None
    phase: str
    step: str

    @property
    def state(self) -> tuple[str, str, int | None, str]:
        return (self.stable, self.candidate, self.weight, self.phase)


class Watch:
    """``kubectl get mdep NAME -w`` (custom columns: an empty cell prints ``<none>``, where the
    default columns' empty cells would make a row ambiguous), each row timed as it arrives."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.rows: list[Row] = []
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self._process = subprocess.Popen([*argv, "-w", "-o", f"custom-columns={WATCH_COLUMNS}"],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, name="kubectl-watch", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        header: list[str] | None = None
        for line in self._process.stdout:
            at = time.monotonic()
            cells = line.split()
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                if header is None:
                    header = cells
                    continue
                if len(cells) != len(header):
                    continue  # not a row (a message from kubectl, kept in lines)
                got = dict(zip(header, [None if c == "<none>" else c for c in cells], strict=True))
                weight = got["WEIGHT"]
                self.rows.append(Row(at, got["STABLE"] or "", got["CANDIDATE"] or "",
                                     int(weight) if weight is not None else None, got["PHASE"] or "",
                                     got["STEP"] or ""))

    def snapshot(self) -> list[Row]:
        with self.lock:
            return list(self.rows)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


# -- the share of answers while a weight held ------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch during which the watch showed one state, trimmed at both ends."""

    start: float
    end: float
    stable: str
    candidate: str
    weight: int
    phase: str


def segments(rows: Sequence[Row], until: float, margin: float) -> list[Segment]:
    """Consecutive rows of the same (stable, candidate, weight, phase) merged; each stretch lasts
    until the next different row (the last one until ``until``), less ``margin`` seconds at both
    ends: the proxy learns of a pod's readiness a moment before the operator reports its weight."""
    out: list[Segment] = []
    i = 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1].state == rows[i].state:
            j += 1
        end = rows[j + 1].at if j + 1 < len(rows) else until
        row = rows[i]
        if row.weight is not None and end - row.at > 2 * margin:
            out.append(Segment(row.at + margin, end - margin, row.stable, row.candidate, row.weight, row.phase))
        i = j + 1
    return out


@dataclass(frozen=True)
class Share:
    segment: Segment
    answers: int
    candidate_answers: int

    @property
    def share(self) -> float:
        return self.candidate_answers / self.answers if self.answers else float("nan")

    def within(self, z: float) -> bool:
        """Whether the candidate's count is within ``z`` binomial standard deviations of weight%."""
        p = self.segment.weight / 100
        return abs(self.candidate_answers - self.answers * p) <= z * math.sqrt(self.answers * p * (1 - p))

    def __str__(self) -> str:
        return (f"weight {self.segment.weight}%: {self.candidate_answers}/{self.answers} answers from "
                f"{self.segment.candidate} ({100 * self.share:.1f}%)")


def share_of(segment: Segment, answers: Sequence[Answer]) -> Share:
    inside = [a for a in answers if segment.start <= a.at < segment.end]
    return Share(segment, len(inside), sum(a.version == segment.candidate for a in inside))

"""Start, check and stop the servers under test, each pinned to core 0 with one BLAS/OpenMP thread."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SERVER_CORE = "0"
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass
class ServerRun:
    """One server process serving one model in one configuration."""

    server: str  # bare | mlserver | modelops
    model: str  # lr | rf | rf500 | hgb
    batching: bool
    command: list[str]
    port: int
    ready_path: str
    infer_path: str
    log: Path
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    variant: str = ""  # what else tells this configuration apart, e.g. MLServer's "workers-0"
    pid: int | None = None  # of the running server; it leads its own process group

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's whole process group."""
        if self.pid is None:
            raise RuntimeError(f"{self.label} is not running")
        return group_cpu_seconds(self.pid)

    @property
    def label(self) -> str:
        if self.server == "bare":
            return f"bare/{self.model}"
        label = f"{self.server}/{self.model}/batching-{'on' if self.batching else 'off'}"
        return f"{label}/{self.variant}" if self.variant else label

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before (servers start together, after all ports are chosen)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def group_cpu_seconds(pgid: int) -> float:
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces: split after its closing parenthesis.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        # fields[0] is field 3 (state): pgrp is field 5, utime/stime are fields 14/15.
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _wait_ready(run: ServerRun, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{run.label} exited with code {process.returncode} before becoming ready; "
                f"see {run.log}:\n{_tail(run.log)}"
            )
        if _get_status(run.url(run.ready_path)) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{run.label} not ready after {timeout_s:.0f}s; see {run.log}:\n{_tail(run.log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The server runs in its own session: signal its whole group (MLServer forks inference workers).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _start(run: ServerRun) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ONE_THREAD, **run.env}
    run.log.parent.mkdir(parents=True, exist_ok=True)
    with run.log.open("wb") as log:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *run.command],
            cwd=run.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run.pid = process.pid
    return process


@contextlib.contextmanager
def running_all(runs: list[ServerRun], ready_timeout_s: float = 180.0) -> Iterator[dict[str, str]]:
    """Start every server at once (start-up is mostly waiting), wait until each is ready, stop them all
    at the end. Yields the start-up failures by label; the other runs are live."""
    processes = {run.label: _start(run) for run in runs}
    failures: dict[str, str] = {}
    try:
        for run in runs:
            try:
                _wait_ready(run, processes[run.label], ready_timeout_s)
            except RuntimeError as error:
                failures[run.label] = str(error)
        yield failures
    finally:
        for run in runs:
            _stop(processes[run.label])
            run.pid = None


def check_predictions(run: ServerRun, bodies: list[str], expected: list[int]) -> None:
    """Fail loudly unless the server answers every benchmark body with the in-process prediction."""
    for body, want in zip(bodies, expected, strict=True):
        request = urllib.request.Request(
            run.url(run.infer_path), data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"{run.label} answered {error.code} to a benchmark body: {error.read()[:500]!r}"
            ) from error
        outputs = {output["name"]: output for output in answer["outputs"]}
        got = outputs["predict"]["data"] if "predict" in outputs else answer["outputs"][0]["data"]
        if [int(value) for value in got] != [want]:
            raise RuntimeError(f"{run.label} predicted {got} where the fitted model predicts [{want}]")

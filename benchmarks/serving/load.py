"""Drive a server with wrk (pinned to core 1) and read back its figures."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOAD_CORE = "1"
LUA_SCRIPT = Path(__file__).with_name("infer.lua")
WRK_TIMEOUT = "10s"  # slow requests are counted, not dropped at wrk's 2 s default


@dataclass(frozen=True)
class Load:
    connections: int
    warmup_s: float
    duration_s: float


def run_wrk(url_base: str, infer_path: str, bodies_file: Path, connections: int, duration_s: float) -> dict[str, Any]:
    command = [
        "taskset",
        "-c",
        LOAD_CORE,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={WRK_TIMEOUT}",
        "-s",
        str(LUA_SCRIPT),
        url_base,
        "--",
        str(bodies_file),
        infer_path,
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            return figures
    raise RuntimeError(f"wrk printed no figures (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def _loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def measure_once(
    url_base: str, infer_path: str, bodies_file: Path, load: Load, cpu_seconds: Callable[[], float]
) -> dict[str, Any]:
    """Warm up (figures discarded), then measure one round; latencies in ms. `cpu_seconds` reads the
    server's CPU time: CPU per request is robust to the machine's noise where latency is not."""
    if load.warmup_s > 0:
        run_wrk(url_base, infer_path, bodies_file, load.connections, load.warmup_s)
    cpu_before = cpu_seconds()
    raw = run_wrk(url_base, infer_path, bodies_file, load.connections, load.duration_s)
    cpu_used = cpu_seconds() - cpu_before
    errors = {key: int(value) for key, value in raw["errors"].items()}
    duration_s = int(raw["duration_us"]) / 1e6
    return {
        "duration_s": round(duration_s, 3),
        "requests": int(raw["requests"]),
        "rps": round(int(raw["requests"]) / duration_s, 1),
        "latency_ms": {key: round(float(value) / 1000, 3) for key, value in raw["latency_us"].items()},
        "errors": errors,
        "server_cpu_s": round(cpu_used, 2),
        "server_cpu_ms_per_request": round(1000 * cpu_used / int(raw["requests"]), 3) if int(raw["requests"]) else None,
        "loadavg_after": _loadavg(),
    }


def combine(load: Load, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one server and load, measured interleaved with the other servers' rounds:
    rps = all requests / all measured time; each latency percentile = the median of the rounds'."""
    requests = sum(r["requests"] for r in rounds)
    duration_s = sum(r["duration_s"] for r in rounds)
    latency_keys = rounds[0]["latency_ms"].keys()
    errors = {key: sum(r["errors"][key] for r in rounds) for key in rounds[0]["errors"]}
    return {
        "connections": load.connections,
        "warmup_s": load.warmup_s,
        "rounds": len(rounds),
        "duration_s": round(duration_s, 3),
        "requests": requests,
        "rps": round(requests / duration_s, 1),
        "latency_ms": {key: round(statistics.median(r["latency_ms"][key] for r in rounds), 3) for key in latency_keys},
        "errors": errors,
        "error_count": sum(errors.values()),
        "server_cpu_ms_per_request": round(1000 * sum(r["server_cpu_s"] for r in rounds) / requests, 3)
        if requests
        else None,
        "per_round": rounds,
    }

"""Drive a server with wrk (pinned to core 1) and read back its figures."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOAD_CORE = "1"
LUA_SCRIPT = Path(__file__).with_name("infer.lua")
WRK_TIMEOUT = "10s"  # slow requests are counted, not dropped at wrk's 2 s default


@dataclass(frozen=True)
class Load:
    connections: int
    warmup_s: float
    duration_s: float


def run_wrk(
    url_base: str, infer_path: str, bodies_file: Path, connections: int, duration_s: float
) -> dict[str, object]:
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
            figures: dict[str, object] = json.loads(line.removeprefix("WRK_JSON "))
            return figures
    raise RuntimeError(f"wrk printed no figures (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def _loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def measure(url_base: str, infer_path: str, bodies_file: Path, load: Load) -> dict[str, object]:
    """Warm up (figures discarded), then measure; return rps, latency percentiles in ms and errors."""
    if load.warmup_s > 0:
        run_wrk(url_base, infer_path, bodies_file, load.connections, load.warmup_s)
    raw = run_wrk(url_base, infer_path, bodies_file, load.connections, load.duration_s)
    latency_us = raw["latency_us"]
    errors = raw["errors"]
    assert isinstance(latency_us, dict)
    assert isinstance(errors, dict)
    requests = int(str(raw["requests"]))
    duration_s = int(str(raw["duration_us"])) / 1e6
    return {
        "connections": load.connections,
        "warmup_s": load.warmup_s,
        "duration_s": round(duration_s, 3),
        "requests": requests,
        "rps": round(requests / duration_s, 1),
        "latency_ms": {key: round(float(value) / 1000, 3) for key, value in latency_us.items()},
        "errors": errors,
        "error_count": sum(int(value) for value in errors.values()),
        "loadavg_after": _loadavg(),
    }

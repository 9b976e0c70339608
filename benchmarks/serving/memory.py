"""Serving memory and liveness under maximal requests (issue 12, item 3).

    make bench-serving-memory                      # writes benchmarks/results/serving_memory.json
    .venv/bin/python benchmarks/serving/memory.py --help

Starts `modelops serve` (its defaults: 8 MiB bodies, 32 MiB of bodies in flight, feedback
store of 64 MiB) on 127.0.0.1 with a one-feature LogisticRegression, then:

1. sends `--requests` maximal requests (4M rows of one feature, just under the 8 MiB body
   limit; each answered but too large to be remembered for feedback) from `--clients`
   threads, each a bounded loop; a 503 (body budget full) is retried after Retry-After,
   at most `--attempts` times per request;
2. sends `--stored-requests` requests of exactly the store's per-request row limit, which
   are remembered, enough to fill the store past its row bound;
3. meanwhile probes `/v2/health/live` every 10 ms on its own connection.

It samples the server's RSS (/proc) every 20 ms and reports RSS before, peak and after
(after the load, once the server is idle) against the stated bounds, and the health
probe's latency percentiles. The last line printed is `RATIOS k=v ...`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODELOPS = ROOT / ".venv" / "bin" / "modelops"
MIB = 1 << 20
ROWS = 4_000_000  # one-digit values: 2 bytes a row, 7.6 MiB a body (the request)
STORED_ROWS = 65_536  # --feedback-max-request-rows default: the largest request remembered
# Stated bounds, above the RSS of the idle, ready server:
# - after the load: the feedback store's byte bound (64 MiB) plus 64 MiB the allocator may
#   keep for reuse;
# - peak: 32 MiB of bodies in flight at ~10x their size while decoded, predicted and
#   encoded (rows, predictions, response), plus the above.
AFTER_BOUND_MIB = 128
PEAK_BOUND_MIB = 512


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="maximal requests answered")
    parser.add_argument("--clients", type=int, default=8, help="threads sending them")
    parser.add_argument("--attempts", type=int, default=1000, help="tries per request (503s are retried)")
    parser.add_argument("--stored-requests", type=int, default=40, help="requests of the stored-row limit")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "serving-memory")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_memory.json")
    return parser.parse_args(argv)


def build_model(work: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    from modelops.artifact import build_artifact

    out = work / "onefeature"
    if (out / "manifest.json").exists():
        return out
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, (2000, 1)).astype(np.float64)
    y = (x[:, 0] + rng.normal(0, 2, 2000) > 4.5).astype(int)
    build_artifact(LogisticRegression().fit(x, y), x, ["x"], y, out)
    return out


def body(rows: int, seed: int) -> bytes:
    data = np.random.default_rng(seed).integers(0, 10, rows)
    text = ",".join(map(str, data.tolist()))
    return f'{{"inputs":[{{"name":"x","shape":[{rows}],"datatype":"FP64","data":[{text}]}}]}}'.encode()


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


@contextmanager
def server(model_dir: Path, work: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [str(MODELOPS), "serve", "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", "0",
         "--model-name", "m", "--log-level", "warning"],
        cwd=work, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    port = 0
    # the "listening on" line is logged at info; with --log-level warning read the port from /proc
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not port:
        port = _listening_port(proc.pid)
        time.sleep(0.1)
    try:
        if not port:
            raise RuntimeError("the server did not start listening")
        for _ in range(600):
            try:
                if _get(port, "/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not become ready")
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(60)
        proc.stderr.close()


def _listening_port(pid: int) -> int:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
            return int(fields[1].split(":")[1], 16)
    return 0


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)


class Prober:
    """The health probe, in a process of its own: in the clients' process it would wait
    for their GIL (they parse 8 MiB answers) and measure them, not the server."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--probe", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.latencies: list[float] = []
        self.failures = 0

    def finish(self) -> None:
        out, _ = self.proc.communicate("stop\n", timeout=60)
        result = json.loads(out)
        self.latencies, self.failures = result["latencies"], result["failures"]


def probe(port: int) -> None:
    """Probe until stdin has a line (or closes); print the latencies as JSON."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    latencies: list[float] = []
    failures = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", "/v2/health/live")
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
        time.sleep(0.01)
    conn.close()
    print(json.dumps({"latencies": latencies, "failures": failures}))


def send_all(port: int, payloads: list[bytes], n: int, clients: int, attempts: int) -> dict[str, Any]:
    """Send ``n`` requests from ``clients`` threads; each retried on 503, bounded."""
    lock = threading.Lock()
    counts: dict[str, int] = {}
    notes: set[str] = set()
    next_index = iter(range(n))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            payload = payloads[index % len(payloads)]
            for _ in range(attempts):
                conn.request("POST", "/v2/models/m/infer", payload, {"content-type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                with lock:
                    counts[str(response.status)] = counts.get(str(response.status), 0) + 1
                if response.status != 503:
                    if response.status == 200:  # the note, without parsing 8 MiB here
                        found = re.search(rb'"parameters":\{"feedback":"([^"]*)"', data[:4096])
                        with lock:
                            notes.add(found.group(1).decode() if found else "stored")
                    break
                time.sleep(float(response.getheader("retry-after", "1")) / 4)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"responses": counts, "feedback_notes": sorted(notes), "seconds": time.perf_counter() - started}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        probe(int(argv[1]))
        return 0
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = build_model(args.work)
    maximal = [body(ROWS, seed) for seed in range(2)]
    stored = [body(STORED_ROWS, seed) for seed in range(4)]
    print(f"maximal body: {len(maximal[0]) / MIB:.2f} MiB, {ROWS} rows; stored body: {STORED_ROWS} rows", flush=True)
    with server(model_dir, args.work) as (proc, port):
        time.sleep(1.0)
        before = rss_mib(proc.pid)
        idle = Prober(port)  # the same probe without load: this machine's floor
        time.sleep(3.0)
        idle.finish()
        sampler, prober = Sampler(proc.pid), Prober(port)
        sampler.start()
        load = send_all(port, maximal, args.requests, args.clients, args.attempts)
        print(f"maximal: {load}", flush=True)
        fill = send_all(port, stored, args.stored_requests, 2, args.attempts)
        print(f"stored: {fill}", flush=True)
        prober.finish()
        time.sleep(2.0)  # idle: what the server keeps
        after = rss_mib(proc.pid)
        sampler.stop.set()
        sampler.join()
        peak = max(sampler.peak, after)
    health: dict[str, Any] = {
        "probes": len(prober.latencies),
        "failures": prober.failures,
        "p50_ms": percentile(prober.latencies, 50) * 1000,
        "p99_ms": percentile(prober.latencies, 99) * 1000,
        "max_ms": max(prober.latencies, default=float("nan")) * 1000,
    }
    health["idle"] = {
        "probes": len(idle.latencies),
        "p50_ms": percentile(idle.latencies, 50) * 1000,
        "p99_ms": percentile(idle.latencies, 99) * 1000,
    }
    rss = {"before_mib": before, "peak_mib": peak, "after_mib": after}
    bounds = {"after_mib": before + AFTER_BOUND_MIB, "peak_mib": before + PEAK_BOUND_MIB}
    ratios = {
        "after_over_bound": after / bounds["after_mib"],
        "peak_over_bound": peak / bounds["peak_mib"],
        "health_p99_ms": health["p99_ms"],
        "health_idle_p99_ms": health["idle"]["p99_ms"],
        "health_max_ms": health["max_ms"],
    }
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "requests": args.requests,
            "clients": args.clients,
            "rows": ROWS,
            "body_bytes": len(maximal[0]),
            "stored_requests": args.stored_requests,
            "stored_rows": STORED_ROWS,
        },
        "maximal": load,
        "stored": fill,
        "rss": rss,
        "bounds": bounds,
        "bound_definitions": {
            "after_mib": f"RSS before + {AFTER_BOUND_MIB} MiB (feedback store 64 MiB + allocator reuse)",
            "peak_mib": f"RSS before + {PEAK_BOUND_MIB} MiB (32 MiB of bodies in flight, ~10x while served)",
        },
        "health_live": health,
        "ratios": ratios,
    }
    line = "RATIOS " + " ".join(f"{k}={v:.3g}" for k, v in ratios.items())
    result["ratios_line"] = line
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"rss": rss, "bounds": bounds, "health_live": health}, indent=2))
    print(line)
    return 0 if after <= bounds["after_mib"] and peak <= bounds["peak_mib"] else 1


if __name__ == "__main__":
    sys.exit(main())

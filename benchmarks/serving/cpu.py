"""Server CPU time per infer request of `modelops serve`, measured directly (and optionally profiled).

    .venv/bin/python benchmarks/serving/cpu.py --artifact rf=benchmarks/.work/serving/modelops/rf
    .venv/bin/python benchmarks/serving/cpu.py --artifact rf=DIR --profile /tmp/rf   # cProfile per thread

Throughput on a shared 2-core machine moves with the other processes; the CPU seconds the server
process spends per request (utime + stime of all its threads, from /proc, before and after a fixed
load) hardly does, so this is the figure to iterate on. Per artifact and batching setting: start the
server pinned to core 0, warm up, then drive it with wrk pinned to core 1 (`--connections`, one-row
benchmark bodies) and print CPU ms per request. Run `make bench-serving` once first: it fits the
models, packages the artifacts and writes the bodies into benchmarks/.work/serving/.

With `--profile PREFIX`, the server runs under cProfile in its event-loop thread and its predicting
thread (PREFIX-loop.prof, PREFIX-predict.prof); profiling slows it, so its CPU figures are not
comparable with unprofiled ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import load
import servers

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = ROOT / ".venv" / "bin" / "python"
WORK = ROOT / "benchmarks" / ".work" / "serving"


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> tuple[float, float]:
    """(the main thread's CPU seconds, all other threads'): the event loop runs in the main
    thread, predicting and monitoring in the others (except a lone request to a direct linear
    predictor, predicted in the loop's thread)."""
    main = other = 0.0
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if stat.parent.name == str(pid):
            main += seconds
        else:
            other += seconds
    return main, other


def server_run(name: str, artifact: Path, batching: bool, profile: str | None) -> servers.ServerRun:
    port = servers.free_port()
    batch_size, latency = ("32", "2.0") if batching else ("1", "0")
    if profile:
        head = [str(PYTHON), str(HERE / "profiled_serve.py"), f"{profile}-{name}-{'on' if batching else 'off'}"]
    else:
        head = [str(ROOT / ".venv" / "bin" / "modelops"), "serve"]
    command = [
        *head,
        "--model-dir", str(artifact), "--model-name", name, "--log-level", "warning",
        "--host", "127.0.0.1", "--port", str(port),
        "--max-batch-size", batch_size, "--max-batch-latency-ms", latency,
    ]  # fmt: skip
    return servers.ServerRun(
        server="modelops",
        model=name,
        batching=batching,
        command=command,
        port=port,
        ready_path="/v2/health/ready",
        infer_path=f"/v2/models/{name}/infer",
        log=WORK / "logs" / f"cpu-{name}-{'on' if batching else 'off'}.log",
    )


def measure(run: servers.ServerRun, bodies: Path, connections: int, warmup: float, duration: float) -> dict[str, Any]:
    assert run.pid is not None
    pid = run.pid
    # taskset execs the server in place: the pid is the server's own
    threads: list[tuple[float, float]] = []

    def cpu_seconds() -> float:
        threads.append(thread_cpu_seconds(pid))
        return process_cpu_seconds(pid)

    figures = load.measure_once(
        run.url(""), run.infer_path, bodies, load.Load(connections, warmup, duration), cpu_seconds
    )
    requests = max(figures["requests"], 1)
    (main0, other0), (main1, other1) = threads
    return {
        "label": run.label,
        "connections": connections,
        "requests": figures["requests"],
        "rps": figures["rps"],
        "cpu_s": figures["server_cpu_s"],
        "cpu_ms_per_request": figures["server_cpu_ms_per_request"],
        "loop_thread_ms_per_request": round(1000 * (main1 - main0) / requests, 3),
        "other_threads_ms_per_request": round(1000 * (other1 - other0) / requests, 3),
        "p50_ms": figures["latency_ms"]["p50"],
        "errors": sum(figures["errors"].values()),
        "loadavg_after": figures["loadavg_after"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", action="append", default=[], help="NAME=DIR (repeat); default: lr, rf, hgb")
    parser.add_argument("--batching", default="on,off", help="comma-separated: on, off")
    parser.add_argument("--connections", default="64", help="comma-separated connection counts")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=1, help="measurements per server and connection count")
    parser.add_argument("--bodies", type=Path, default=WORK / "bodies.jsonl")
    parser.add_argument("--profile", help="profile the servers (cProfile), writing PREFIX-NAME-BATCHING-*.prof")
    args = parser.parse_args(argv)
    artifacts = dict(a.split("=", 1) for a in args.artifact) or {
        name: str(WORK / "modelops" / name) for name in ("lr", "rf", "hgb")
    }
    plan = [
        server_run(name, Path(path), batching == "on", args.profile)
        for name, path in artifacts.items()
        for batching in args.batching.split(",")
    ]
    results: list[dict[str, Any]] = []
    print(f"loadavg before: {' '.join(load._loadavg())}", flush=True)
    with servers.running_all(plan) as failures:
        if failures:
            print(json.dumps(failures, indent=2))
            return 1
        for _ in range(args.rounds):
            for connections in (int(c) for c in args.connections.split(",")):
                for run in plan:
                    entry = measure(run, args.bodies, connections, args.warmup, args.duration)
                    results.append(entry)
                    loop, others = entry["loop_thread_ms_per_request"], entry["other_threads_ms_per_request"]
                    print(
                        f"{entry['label']:<32} c={connections:<3} {entry['requests']:>7} req {entry['rps']:>8.1f} rps "
                        f"cpu {entry['cpu_ms_per_request']:.3f} ms/req (loop {loop:.3f}, others {others:.3f})  "
                        f"p50 {entry['p50_ms']:.2f} ms  errors {entry['errors']}  "
                        f"load {' '.join(entry['loadavg_after'])}",
                        flush=True,
                    )
        time.sleep(0.5)
    print("CPU_JSON " + json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The operator's cost as the number of models grows (`make bench-operator`).

For each size N (100, 1,000, 3,000 by default), against a fresh API emulator:

1. start `modelops operator` (a process of its own, so its RSS and CPU are its own) and wait
   until its watches are open;
2. apply N ModelVersions (one shared file:// artifact) and N ModelDeployments at once;
3. play the Deployment controller (as the tests do): every Deployment the operator writes is
   reported available at its desired replicas;
4. measure the time until every ModelDeployment is Ready, the operator's API requests per object
   (reads, lists, writes apart), and its peak RSS;
5. leave it settled for a while and count its requests and CPU per minute;
6. change one ModelDeployment among the N (replicas 2 -> 3) and time until its Deployment has it.

The emulator runs in this process, in a thread of its own; its CPU time (that thread's, from
/proc) says whether it or the operator is the bottleneck. Writes here go straight into the
emulator's store (no HTTP), so every request it records is the operator's.

Results go to benchmarks/results/operator.json; the last line printed is RATIOS ....
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from modelops.emulator.server import RequestRecord  # noqa: E402
from modelops.emulator.testing import EmulatorHandle, running_emulator  # noqa: E402
from tests.operator.harness import CRDS, IMAGE, make_artifact  # noqa: E402

API = "modelops.dev/v1alpha1"
RESULTS = ROOT / "benchmarks" / "results" / "operator.json"
MODELOPS = Path(sys.executable).with_name("modelops")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
TICK = os.sysconf("SC_CLK_TCK")


# -- what the cluster holds ---------------------------------------------------------------


def objects(n: int, uri: str, sha: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        model = f"m{i:05d}"
        out.append({"apiVersion": API, "kind": "ModelVersion",
                    "metadata": {"name": f"{model}-v1", "namespace": "default"},
                    "spec": {"model": model, "artifact": {"uri": uri, "sha256": sha}}})
        out.append({"apiVersion": API, "kind": "ModelDeployment", "metadata": {"name": model, "namespace": "default"},
                    "spec": {"model": model, "version": f"{model}-v1", "replicas": 2}})
    return out


def ready_count(k8s: EmulatorHandle) -> int:
    store = k8s.cluster.store
    ready = 0
    with store.lock:
        for _, obj in store.items(("modelops.dev", "modeldeployments")):
            generation = obj["metadata"].get("generation")
            for cond in (obj.get("status") or {}).get("conditions") or ():
                if (cond.get("type") == "Ready" and cond.get("status") == "True"
                        and cond.get("observedGeneration") == generation):
                    ready += 1
                    break
    return ready


def play_deployment_controller(k8s: EmulatorHandle) -> int:
    """Report every Deployment available at its desired replicas; returns how many it updated."""
    store = k8s.cluster.store
    behind: list[tuple[str, str, int, int]] = []
    with store.lock:
        for key, obj in store.items(("apps", "deployments")):
            status = obj.get("status") or {}
            generation = int(obj["metadata"].get("generation", 1))
            replicas = int((obj.get("spec") or {}).get("replicas", 1))
            if status.get("observedGeneration") != generation or status.get("availableReplicas") != replicas:
                behind.append((key[2], key[3], generation, replicas))
    for namespace, name, generation, replicas in behind:
        k8s.patch_status("apps/v1", "Deployment", name, {
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
        }, namespace=namespace)
    return len(behind)


# -- the operator process -----------------------------------------------------------------


# With --memory: the operator traces its allocations; SIGUSR2 writes the top lines holding memory.
MEMORY_HOOK = """
import signal, sys, tracemalloc
tracemalloc.start(1)
def _dump(*_):
    stats = tracemalloc.take_snapshot().statistics("lineno")
    with open({path!r}, "w") as out:
        out.write(f"traced {{sum(s.size for s in stats) / 2**20:.1f}} MiB\\n")
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"sklearn", "scipy", "numpy", "pandas", "skops",
                                                                  "kubernetes", "pyarrow", "mlflow"}})
        out.write(f"loaded: {{heavy}}\\n")
        for stat in stats[:40]:
            out.write(f"{{stat.size / 2**20:8.2f}} MiB {{stat.count:8d}} {{stat.traceback}}\\n")
signal.signal(signal.SIGUSR2, _dump)
"""


class Operator:
    def __init__(self, k8s: EmulatorHandle, log: Path, workers: int, profile: Path | None = None,
                 memory: Path | None = None) -> None:
        self._out = log.open("wb")
        args = ["operator", "--kubeconfig", str(k8s.kubeconfig), "--image", IMAGE,
                "--health-port", "0", "--metrics-port", "0", "--ready-port", "0", "--workers", str(workers)]
        command = [str(MODELOPS), *args]
        if profile is not None or memory is not None:
            hook = MEMORY_HOOK.format(path=str(memory)) if memory is not None else ""
            # cProfile writes its stats when the process ends (SIGTERM stops kopf cleanly).
            run = f"cProfile.run('main()', {str(profile)!r})" if profile is not None else "main()"
            script = (f"import cProfile, sys\n{hook}\nsys.argv = ['modelops', *{args!r}]\n"
                      f"from modelops.cli import main\n{run}\n")
            command = [sys.executable, "-c", script]
        self.process = subprocess.Popen(
            command, stdout=self._out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mib(self, peak: bool = True) -> float:
        key = "VmHWM:" if peak else "VmRSS:"
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._out.close()


def thread_cpu_s(native_id: int | None) -> float:
    if native_id is None:
        return 0.0
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def emulator_thread(k8s: EmulatorHandle) -> int | None:
    for thread in threading.enumerate():
        if thread.name == "k8s-emulator":
            return thread.native_id
    return None


def classify(records: list[RequestRecord]) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for r in records:
        watching = "watch=true" in r.query or "watch=1" in r.query
        parts = r.path.strip("/").split("/")
        rest = parts[3:] if parts[0] == "apis" else parts[2:]  # after /apis/group/version or /api/v1
        if len(rest) >= 3 and rest[0] == "namespaces":
            rest = rest[2:]
        named = len(rest) >= 2  # plural/name[/subresource]: a GET of one object, not a list
        if r.method == "GET":
            counts["watches" if watching else "gets" if named else "lists"] += 1
        elif r.method in WRITES:
            counts["writes"] += 1
            counts["event_writes" if "/events" in r.path else "object_writes"] += 1
            resource = "/".join(parts[parts.index("namespaces") + 2:][:1] + parts[parts.index("namespaces") + 4:][:1]
                                ) if "namespaces" in parts else parts[-1]
            counts[f"{r.method} {resource}"] += 1
    return dict(counts)


def wait_until(check: Any, timeout: float, what: str, step: float = 0.05) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if check():
            return time.perf_counter() - started
        time.sleep(step)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


# -- one size -----------------------------------------------------------------------------


def event_reasons(k8s: EmulatorHandle) -> dict[str, int]:
    """Events in the store by reason, and their total count (Events aggregated by count stay one object)."""
    counts: collections.Counter[str] = collections.Counter()
    store = k8s.cluster.store
    with store.lock:
        for _, obj in store.items(("", "events")):
            counts[str(obj.get("reason"))] += 1
    return dict(sorted(counts.items()))


def in_thread(k8s: EmulatorHandle, fn: Any) -> None:
    """Run ``fn`` on the emulator's own thread and wait for it (a profiler is per thread)."""
    assert k8s.loop is not None
    done = threading.Event()

    def call() -> None:
        try:
            fn()
        finally:
            done.set()

    k8s.loop.call_soon_threadsafe(call)
    done.wait(10)


def run_size(
    n: int, uri: str, sha: str, work: Path, *, idle_s: float, workers: int, timeout_s: float,
    profile: Path | None = None, memory: Path | None = None,
) -> dict[str, Any]:
    with running_emulator(work / f"kubeconfig-{n}", bookmark_interval=60.0, history_size=50 * n + 10_000,
                          crds=[CRDS]) as k8s:
        k8s.emulator.requests = collections.deque()  # every request of the run, not the last 5000
        k8s.cluster.service_network = "10.96.0.0/16"  # a cluster's usual size: N x 2 Services fit
        emulator_tid = emulator_thread(k8s)
        operator = Operator(k8s, work / f"operator-{n}.log", workers,
                            profile / f"operator-{n}.prof" if profile is not None else None,
                            memory / f"operator-{n}.memory.txt" if memory is not None else None)
        emulator_profile = cProfile.Profile() if profile is not None else None
        try:
            wait_until(lambda: any("modeldeployments" in r.path and "watch" in r.query
                                   for r in list(k8s.emulator.requests)), 60, "the operator's watches")
            time.sleep(1.0)  # every watch open (ModelVersions, Deployments, Services, Jobs too)
            k8s.emulator.requests.clear()
            cpu0, emu_cpu0, emu_busy0 = operator.cpu_s(), thread_cpu_s(emulator_tid), k8s.emulator.busy_s
            if emulator_profile is not None:
                in_thread(k8s, emulator_profile.enable)

            started = time.perf_counter()
            for obj in objects(n, uri, sha):
                k8s.create(obj)
            applied_s = time.perf_counter() - started
            # When 10 %, 50 %, 90 % and all were Ready: a flat rate, or a slow start, or a slow tail.
            milestones: dict[str, float] = {}
            # Each look scans every ModelDeployment and Deployment under the store's lock, in the
            # emulator's process: every 0.1 s at 3,000 that took a tenth of a core from the emulator.
            poll_s = 0.1 if n <= 1000 else 0.25
            while (ready := ready_count(k8s)) < n:
                for fraction in (0.1, 0.5, 0.9):
                    if ready >= fraction * n and f"{fraction:.0%}" not in milestones:
                        milestones[f"{fraction:.0%}"] = round(time.perf_counter() - started, 2)
                play_deployment_controller(k8s)
                if time.perf_counter() - started > timeout_s:
                    print(f"N={n}: only {ready_count(k8s)} of {n} Ready after {timeout_s:.0f}s; figures below "
                          "are for that moment", file=sys.stderr)
                    break
                time.sleep(poll_s)
            ready_at_end = ready_count(k8s)
            converge_s = time.perf_counter() - started
            milestones["100%"] = round(converge_s, 2)
            converge = classify(list(k8s.emulator.requests))
            converge_cpu = operator.cpu_s() - cpu0
            emulator_cpu = thread_cpu_s(emulator_tid) - emu_cpu0
            emulator_busy = k8s.emulator.busy_s - emu_busy0
            emulator_answered = len(k8s.emulator.requests)
            if emulator_profile is not None and profile is not None:
                in_thread(k8s, emulator_profile.disable)
                emulator_profile.dump_stats(str(profile / f"emulator-{n}.prof"))
            peak_rss = operator.rss_mib(peak=True)
            reasons = event_reasons(k8s)
            if memory is not None:
                operator.process.send_signal(signal.SIGUSR2)

            # Settled: all Ready is not all quiet. Each status write echoes back as a watch event and
            # one more (no-op) reconcile; wait until no request came for 5 s, then count.
            quiet_from = time.perf_counter()
            seen = k8s.emulator.answered
            while time.perf_counter() - quiet_from < 5.0 and time.perf_counter() - started < timeout_s + 300:
                time.sleep(0.5)
                if k8s.emulator.answered != seen:
                    seen, quiet_from = k8s.emulator.answered, time.perf_counter()
            settled_s = time.perf_counter() - started - 5.0
            k8s.emulator.requests.clear()
            cpu1 = operator.cpu_s()
            time.sleep(idle_s)
            idle = classify(list(k8s.emulator.requests))
            per_min = 60.0 / idle_s
            idle_cpu_s_per_min = (operator.cpu_s() - cpu1) * per_min

            # One change among N settled objects: replicas 2 -> 3 on one ModelDeployment.
            name = f"m{n // 2:05d}"
            k8s.emulator.requests.clear()
            changed = time.perf_counter()
            k8s.patch(API, "ModelDeployment", name, {"spec": {"replicas": 3}})
            change_s = wait_until(
                lambda: k8s.get("apps/v1", "Deployment", f"{name}-{name}-v1")["spec"]["replicas"] == 3,
                60, f"the operator to act on {name}", step=0.005)
            change_s = time.perf_counter() - changed
            change = classify(list(k8s.emulator.requests))
            current_rss = operator.rss_mib(peak=False)
        finally:
            operator.stop()
    return {
        "objects": n,
        "apply_s": round(applied_s, 3),
        "converge_s": round(converge_s, 3),
        "ready": ready_at_end,
        "quiet_after_s": round(settled_s, 3),
        "per_object_ms": round(1000 * converge_s / n, 3),
        "requests_to_converge": converge,
        "per_object": {k: round(v / n, 3) for k, v in converge.items()},
        "ready_at_s": milestones,
        "events_by_reason": reasons,
        "operator_cpu_s_to_converge": round(converge_cpu, 2),
        "emulator_thread_cpu_s_to_converge": round(emulator_cpu, 2),
        "emulator_busy_s_to_converge": round(emulator_busy, 2),
        # The emulator's own figures: what it answered per second of the run, and per second it was busy
        # (its capacity); with its CPU well below the run's length it is not the bottleneck.
        "emulator_requests_per_s": round(emulator_answered / converge_s, 1),
        "emulator_requests_per_busy_s": round(emulator_answered / emulator_busy, 1) if emulator_busy else None,
        "operator_peak_rss_mib": round(peak_rss, 1),
        "operator_rss_mib_settled": round(current_rss, 1),
        "idle_window_s": idle_s,
        "idle_requests_per_min": {k: round(v * per_min, 2) for k, v in idle.items()},
        "idle_cpu_s_per_min": round(idle_cpu_s_per_min, 3),
        "change_latency_s": round(change_s, 3),
        "change_requests": change,
    }


def compute_ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The RATIOS line; a size that did not converge has no per-object time (None, said so)."""
    small, large = runs[0], runs[-1]
    converged = all(r.get("ready", r["objects"]) == r["objects"] for r in (small, large))
    return {
        "per_object_growth": round(large["per_object_ms"] / small["per_object_ms"], 3) if converged else None,
        "writes_per_object": max(r["per_object"].get("writes", 0.0) for r in runs if r.get("ready") == r["objects"]),
        "idle_writes_per_min": large["idle_requests_per_min"].get("writes", 0.0),
        "idle_lists_per_min": large["idle_requests_per_min"].get("lists", 0.0),
        "rss_mib_3000": large["operator_peak_rss_mib"],
        "change_latency_s": large["change_latency_s"],
        "largest_ready": f"{large.get('ready', large['objects'])}/{large['objects']}",
    }


def ratios_line(ratios: dict[str, Any]) -> str:
    shown = {k: ("n/a" if v is None else v) for k, v in ratios.items() if k != "idle_lists_per_min"}
    return "RATIOS " + " ".join(f"{k}={v}" for k, v in shown.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000", help="comma-separated numbers of ModelDeployments")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of settled time measured at the largest "
                        "size (the smaller ones: at most 10 s; the largest is the one the targets are about)")
    parser.add_argument("--workers", type=int, default=4, help="the operator's --workers (its default: 4)")
    parser.add_argument("--timeout", type=float, default=420.0, help="stop waiting for Ready after this long")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the operator and of the emulator's "
                        "thread (to convergence) here, per size")
    parser.add_argument("--keep", type=Path, help="keep the operator's logs here")
    parser.add_argument("--memory", type=Path, help="trace the operator's allocations (tracemalloc) and write "
                        "the lines holding most memory once converged here, per size (slows it down)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        work = Path(tmp)
        uri, sha = make_artifact(work / "artifact", seed=1)
        runs = []
        for n in sizes:
            for folder in (args.profile, args.memory):
                if folder is not None:
                    folder.mkdir(parents=True, exist_ok=True)
            logs = args.keep or work
            logs.mkdir(parents=True, exist_ok=True)
            idle = args.idle if n == max(sizes) else min(args.idle, 10.0)
            result = run_size(n, uri, sha, logs, idle_s=idle, workers=args.workers, timeout_s=args.timeout,
                              profile=args.profile, memory=args.memory)
            runs.append(result)
            print(json.dumps(result), flush=True)
    ratios = compute_ratios(runs)
    report = {
        "benchmark": "operator scale against the API emulator (benchmarks/operator/run.py)",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "note": "2 cores shared with other work; figures vary from run to run"},
        "settings": {"sizes": sizes, "idle_window_s": args.idle, "workers": args.workers,
                     "replicas_per_deployment": 2, "artifact": "one shared file:// artifact"},
        "targets": {"per_object_growth": "<= 1.5", "writes_per_object": "<= 6", "idle_writes_per_min": "0",
                    "idle_lists_per_min": "0", "rss_mib_3000": "<= 300", "change_latency_s": "<= 2"},
        "runs": runs,
        "ratios": ratios,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(ratios_line(ratios))


if __name__ == "__main__":
    main()

"""Serving benchmark: `modelops serve` vs a bare FastAPI app vs MLServer, side by side in one run.

    make bench-serving                     # full run, about 20-25 min: benchmarks/results/serving.json
    make bench-serving BENCH_ARGS=--quick  # smoke run, about 8 min: benchmarks/.work/serving/
    .venv/bin/python benchmarks/serving/run.py --help

First, in one process pinned to core 0, the in-process one-row predict of each model: scikit-learn's
`predict` and the served model's (`inprocess.py`). Then per model (LogisticRegression, RandomForest with
100 and 500 trees, HistGradientBoosting(200) on load_breast_cancer) and server configuration: start the
server pinned to core 0, check that it predicts what the fitted model predicts, then with wrk pinned to
core 1 measure one connection (latency) and 64 connections (throughput), each after a warm-up.
The last line printed is the `RATIOS ...` line; the JSON holds every raw figure and the definitions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import environment
import load
import models
import ratios
import report
import servers

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODELOPS = ROOT / ".venv" / "bin" / "modelops"
SERVERS = ("bare", "mlserver", "modelops")
SCIKIT_LEARN_VARIANT = "scikit-learn-predict"
MODELS = ("lr", "rf", "rf500", "hgb")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s warm-up, 2-3 s per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up, many clients")
    parser.add_argument("--single-duration", type=float, default=3.0, help="seconds measured with 1 connection")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured with --connections")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved measurements per server, many clients")
    parser.add_argument("--single-rounds", type=int, default=3, help="interleaved measurements per server, 1 client")
    parser.add_argument("--single-warmup", type=float, default=1.0, help="seconds of warm-up, 1 client")
    parser.add_argument("--max-batch-size", type=int, default=32, help="batching-on setting, modelops and MLServer")
    parser.add_argument("--max-batch-latency-ms", type=float, default=2.0, help="batching-on setting, both")
    parser.add_argument(
        "--mlserver-parallel-workers",
        default="0,1",
        help="comma-separated values of MLServer's parallel_workers to measure, its best counts (1, MLServer's "
        "default: inference in a worker process; 0: in the server process, as the bare app)",
    )
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of " + ",".join(SERVERS))
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    parser.add_argument(
        "--scikit-learn-models",
        default="rf",
        help="comma-separated models also served by modelops through scikit-learn's predict "
        "(--no-direct-predictors), batching on and off: what batching buys a model without a direct predictor",
    )
    parser.add_argument("--in-process-seconds", type=float, default=2.0, help="minimum time per in-process measurement")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "serving")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/serving.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.single_duration, args.duration, args.rounds, args.single_rounds = 1.0, 2.0, 3.0, 1, 1
        args.in_process_seconds = 0.5
    if args.out is None:
        args.out = args.work / "serving-quick.json" if args.quick else ROOT / "benchmarks/results/serving.json"
    args.servers = [name for name in args.servers.split(",") if name]
    args.models = [name for name in args.models.split(",") if name]
    args.scikit_learn_models = [name for name in args.scikit_learn_models.split(",") if name]
    args.mlserver_parallel_workers = [int(value) for value in args.mlserver_parallel_workers.split(",") if value]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; known: {', '.join(SERVERS)}")
    unknown = set(args.models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}")
    return args


def bare_run(model: models.FittedModel, work: Path) -> servers.ServerRun:
    port = servers.free_port()
    return servers.ServerRun(
        server="bare",
        model=model.key,
        batching=False,
        command=[
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=HERE,
        env={"BARE_MODEL_PATH": str(model.joblib_path), "BARE_MODEL_NAME": model.key},
        port=port,
        ready_path="/v2/health/ready",
        infer_path=f"/v2/models/{model.key}/infer",
        log=work / "logs" / f"bare-{model.key}.log",
        settings={"uvicorn": "1 worker, uvloop, httptools, no access log", "predict": "on the event loop"},
    )


def mlserver_run(
    model: models.FittedModel, work: Path, mlserver: Path, batching: bool, args: argparse.Namespace, *, workers: int
) -> servers.ServerRun:
    tag = f"{model.key}-batching-{'on' if batching else 'off'}-workers-{workers}"
    repository = work / "mlserver" / tag
    shutil.rmtree(repository, ignore_errors=True)
    (repository / model.key).mkdir(parents=True)
    port = servers.free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": servers.free_port(),
        "metrics_port": servers.free_port(),
        "metrics_dir": str(repository / ".metrics"),
        "debug": False,  # MLServer's access log is on in debug mode, its default
        "parallel_workers": workers,
    }
    model_settings: dict[str, Any] = {
        "name": model.key,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model.joblib_path), "version": "v1"},
    }
    if batching:
        model_settings["max_batch_size"] = args.max_batch_size
        model_settings["max_batch_time"] = args.max_batch_latency_ms / 1000
    (repository / "settings.json").write_text(json.dumps(settings, indent=2))
    (repository / model.key / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return servers.ServerRun(
        server="mlserver",
        model=model.key,
        batching=batching,
        command=[str(mlserver), "start", str(repository)],
        cwd=repository,
        port=port,
        ready_path=f"/v2/models/{model.key}/ready",
        infer_path=f"/v2/models/{model.key}/infer",
        log=work / "logs" / f"mlserver-{tag}.log",
        variant=f"workers-{workers}",
        settings={"settings.json": settings, "model-settings.json": model_settings},
    )


def package_for_modelops(model: models.FittedModel, work: Path) -> Path:
    out = work / "modelops" / model.key
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(MODELOPS),
        "package",
        "--model",
        str(model.joblib_path),
        "--reference",
        str(model.reference_csv),
        "--target",
        models.TARGET,
        "--out",
        str(out),
        # The joblib file is ours, written a moment ago; the artifact itself is skops (the default).
        "--trusted",
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return out


def modelops_run(
    model: models.FittedModel,
    work: Path,
    artifact: Path,
    batching: bool,
    args: argparse.Namespace,
    *,
    scikit_learn: bool = False,
) -> servers.ServerRun:
    """`modelops serve` as deployed; with `scikit_learn`, predicting through scikit-learn although a
    direct predictor is proven equal (`--no-direct-predictors`), as a model without one is served."""
    variant = SCIKIT_LEARN_VARIANT if scikit_learn else ""
    tag = f"{model.key}-batching-{'on' if batching else 'off'}" + (f"-{variant}" if variant else "")
    port = servers.free_port()
    batch_size, batch_latency = (args.max_batch_size, args.max_batch_latency_ms) if batching else (1, 0.0)
    return servers.ServerRun(
        server="modelops",
        model=model.key,
        batching=batching,
        command=[
            str(MODELOPS),
            "serve",
            "--model-dir",
            str(artifact),
            "--model-name",
            model.key,
            "--log-level",
            "warning",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--max-batch-size",
            str(batch_size),
            "--max-batch-latency-ms",
            str(batch_latency),
            *(["--no-direct-predictors"] if scikit_learn else []),
        ],
        port=port,
        ready_path="/v2/health/ready",
        infer_path=f"/v2/models/{model.key}/infer",
        log=work / "logs" / f"modelops-{tag}.log",
        variant=variant,
        settings={
            "max_batch_size": batch_size,
            "max_batch_latency_ms": batch_latency,
            "monitoring": "on",
            "predictor": "scikit-learn predict (--no-direct-predictors)" if scikit_learn else "as deployed",
        },
    )


def measure_in_process(artifacts: dict[str, Path], work: Path, seconds: float) -> dict[str, Any]:
    """One-row predict in a process of its own, pinned and single-threaded as the servers are."""
    if not artifacts:
        return {}
    command = [
        "taskset",
        "-c",
        servers.SERVER_CORE,
        str(ROOT / ".venv" / "bin" / "python"),
        str(HERE / "inprocess.py"),
        "--rows",
        str(work / "rows.npy"),
        "--seconds",
        str(seconds),
        *(f"--artifact={name}={path}" for name, path in artifacts.items()),
    ]
    print(f"--- in-process one-row predict of {', '.join(artifacts)}", flush=True)
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env={**os.environ, **servers.ONE_THREAD}
    )
    if done.returncode != 0:
        error = f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        print(f"--- in-process measurement FAILED: {error}", flush=True)
        return {name: {"error": error} for name in artifacts}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for name, entry in figures.items():
        print(
            f"    {name:<6} scikit-learn {entry['sklearn_predict']['median_us']:>9.1f} us   served "
            f"{entry['served_predict']['median_us']:>8.1f} us   x{entry['speedup']:<6} built in "
            f"{entry['served_model_build_s']} s   ({entry['predictor']})",
            flush=True,
        )
    return figures


def _record(run: servers.ServerRun) -> dict[str, Any]:
    return {
        "label": run.label,
        "server": run.server,
        "model": run.model,
        "batching": run.batching,
        "variant": run.variant,
        "settings": run.settings,
        "command": run.command,
    }


def _print_round(label: str, figures: dict[str, Any]) -> None:
    lat = figures["latency_ms"]
    errors = sum(figures["errors"].values())
    print(
        f"    {label:<34} {figures['rps']:>8.1f} rps  p50 {lat['p50']:8.3f}  p90 {lat['p90']:8.3f}  "
        f"p99 {lat['p99']:8.3f} ms  cpu/req {figures['server_cpu_ms_per_request']} ms  errors {errors}",
        flush=True,
    )


def measure_model(
    plan: list[servers.ServerRun], model: models.FittedModel, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Start every server of `plan` (idle ones cost nothing), then measure them in interleaved
    rounds, so that the machine's slow phases (it is shared) fall on all of them alike."""
    records = {run.label: _record(run) for run in plan}
    bodies = model.bodies_file.read_text().splitlines()
    live: list[servers.ServerRun] = []
    started = time.monotonic()
    with servers.running_all(plan) as failures:
        for run in plan:
            try:
                if run.label in failures:
                    raise RuntimeError(failures[run.label])
                servers.check_predictions(run, bodies, model.expected)
            except RuntimeError as error:
                records[run.label]["error"] = str(error)
                print(f"--- {run.label}: FAILED: {error}", flush=True)
                continue
            live.append(run)
        print(f"--- {len(live)} servers ready and checked in {time.monotonic() - started:.1f} s", flush=True)
        phases = {
            "single": (
                load.Load(connections=1, warmup_s=args.single_warmup, duration_s=args.single_duration),
                args.single_rounds,
            ),
            "concurrent": (
                load.Load(connections=args.connections, warmup_s=args.warmup, duration_s=args.duration),
                args.rounds,
            ),
        }
        for phase, (phase_load, n_rounds) in phases.items():
            rounds: dict[str, list[dict[str, Any]]] = {run.label: [] for run in live}
            for index in range(n_rounds):
                print(f"--- {model.key}: {phase_load.connections} connection(s), round {index + 1}/{n_rounds}")
                for run in live:
                    figures = load.measure_once(
                        run.url(""), run.infer_path, model.bodies_file, phase_load, run.cpu_seconds
                    )
                    rounds[run.label].append(figures)
                    _print_round(run.label, figures)
            for run in live:
                records[run.label][phase] = load.combine(phase_load, rounds[run.label])
    return list(records.values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    wall = time.monotonic()
    environment.ensure_wrk()
    mlserver = None
    if "mlserver" in args.servers:
        mlserver = environment.ensure_mlserver_venv(ROOT / "benchmarks" / ".venvs" / "mlserver")
    if "modelops" in args.servers and not MODELOPS.exists():
        raise SystemExit(f"{MODELOPS} not found: run `make install` first")

    args.work.mkdir(parents=True, exist_ok=True)
    fitted = models.fit_models(args.work, args.models)
    runs: list[dict[str, Any]] = []
    artifacts: dict[str, Path] = {}
    for model in fitted:
        try:
            artifacts[model.key] = package_for_modelops(model, args.work)
        except RuntimeError as error:
            print(f"--- modelops/{model.key}: packaging FAILED: {error}", flush=True)
            if "modelops" in args.servers:
                runs.append(
                    {
                        "label": f"modelops/{model.key}",
                        "server": "modelops",
                        "model": model.key,
                        "batching": None,
                        "error": str(error),
                    }
                )
    in_process = measure_in_process(artifacts, args.work, args.in_process_seconds)
    for model in fitted:
        plan: list[servers.ServerRun] = []
        if "bare" in args.servers:
            plan.append(bare_run(model, args.work))
        if mlserver is not None:
            plan += [
                mlserver_run(model, args.work, mlserver, batching, args, workers=workers)
                for workers in args.mlserver_parallel_workers
                for batching in (False, True)
            ]
        if "modelops" in args.servers and model.key in artifacts:
            plan += [modelops_run(model, args.work, artifacts[model.key], batching, args) for batching in (False, True)]
            if model.key in args.scikit_learn_models:
                plan += [
                    modelops_run(model, args.work, artifacts[model.key], batching, args, scikit_learn=True)
                    for batching in (False, True)
                ]
        runs += measure_model(plan, model, args)

    computed = ratios.compute(runs, in_process)
    line = ratios.ratios_line(computed)
    main_python = ROOT / ".venv" / "bin" / "python"
    results = {
        "benchmark": "serving",
        "started_at": started_at.isoformat(timespec="seconds"),
        "runtime_s": round(time.monotonic() - wall, 1),
        "quick": args.quick,
        "machine": environment.machine_info(),
        "versions": {
            "modelops_git_commit": environment.git_commit(ROOT),
            "modelops_uncommitted_files": environment.uncommitted(ROOT, ["serving", "modelops"]),
            "ours": environment.venv_versions(
                main_python,
                [
                    "modelops",
                    "scikit-learn",
                    "numpy",
                    "fastapi",
                    "uvicorn",
                    "uvloop",
                    "httptools",
                    "pydantic",
                    "orjson",
                    "skops",
                    "prometheus-client",
                ],
            ),
            "mlserver_venv": None
            if mlserver is None
            else environment.venv_versions(
                mlserver.parent / "python",
                [
                    "mlserver",
                    "mlserver-sklearn",
                    "scikit-learn",
                    "numpy",
                    "fastapi",
                    "uvicorn",
                    "uvloop",
                    "httptools",
                    "pydantic",
                ],
            ),
        },
        "settings": {
            "models": {
                model.key: {
                    "estimator": model.description,
                    "test_accuracy": model.test_accuracy,
                    "features": model.n_features,
                }
                for model in fitted
            },
            "in_process": "inprocess.py in its own process pinned to the server core with one thread: median of "
            f"single one-row calls, at least {args.in_process_seconds} s each, cycling through the 64 test rows",
            "dataset": "load_breast_cancer, train_test_split(test_size=0.25, random_state=0, stratify=y)",
            "payload": "OIP v2 JSON, one FP64 tensor [1, 30] per request, cycling through 64 test rows",
            "load_generator": f"wrk -t1, Lua POST script, --timeout {load.WRK_TIMEOUT}, pinned to core "
            f"{load.LOAD_CORE}",
            "server_pinning": f"taskset -c {servers.SERVER_CORE} (the server and any worker process)",
            "server_env": servers.ONE_THREAD,
            "single_client_rounds": args.single_rounds,
            "single_client_warmup_s": args.single_warmup,
            "concurrent_rounds": args.rounds,
            "concurrent_warmup_s": args.warmup,
            "aggregation": "rounds interleaved across servers; rps = requests / time over all rounds; "
            "each latency percentile = median of the rounds' percentiles",
            "single_client": {"connections": 1, "duration_s": args.single_duration},
            "concurrent": {"connections": args.connections, "duration_s": args.duration},
            "batching_on": {
                "max_batch_size": args.max_batch_size,
                "max_batch_latency_ms": args.max_batch_latency_ms,
            },
            "batching_off": "modelops --max-batch-size 1; MLServer max_batch_size/max_batch_time unset",
            "mlserver_parallel_workers": args.mlserver_parallel_workers,
        },
        "in_process": in_process,
        "runs": runs,
        "ratios": computed,
        "ratios_line": line,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report.markdown_table(results), flush=True)
    print(report.in_process_table(results), flush=True)
    print(f"results: {args.out} ({results['runtime_s']} s)", flush=True)
    for name, entry in computed.items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[entry["met"]]
        print(f"  {name:<20} {entry['value']!s:>8}  target {entry['target']:<7} {verdict}", flush=True)
    print(line, flush=True)
    failed = [run for run in runs if "error" in run] + [e for e in in_process.values() if "error" in e]
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())

"""In-process one-row predict: scikit-learn's `predict` against what `modelops serve` runs.

    taskset -c 0 .venv/bin/python benchmarks/serving/inprocess.py --artifact lr=DIR --artifact rf=DIR ...

Per model: load the packaged artifact as `modelops serve` does (verify, deserialize, choose a direct
predictor, timing that choice), then time one-row calls, cycling through the benchmark rows:
`estimator.predict(row)` (what the bare app and MLServer call) and `ServedModel.predict(row)` (the
direct predictor when one was proven equal, else scikit-learn). Each figure is the median (and p90)
of the single calls' wall times, measured until both a minimum count and a minimum time are reached.
Prints one JSON object: {model: {...}}.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _time_calls(
    call: Callable[[np.ndarray], Any], rows: np.ndarray, min_calls: int, min_seconds: float
) -> dict[str, Any]:
    for row in rows[:5]:  # warm caches and lazy imports
        call(row[None, :])
    times: list[int] = []
    started = time.perf_counter()
    i = 0
    while len(times) < min_calls or time.perf_counter() - started < min_seconds:
        row = rows[i % len(rows)][None, :]
        t0 = time.perf_counter_ns()
        call(row)
        times.append(time.perf_counter_ns() - t0)
        i += 1
    us = np.asarray(times) / 1000
    return {
        "calls": len(times),
        "median_us": round(float(np.median(us)), 1),
        "p90_us": round(float(np.percentile(us, 90)), 1),
    }


def measure(name: str, artifact: Path, rows: np.ndarray, seconds: float) -> dict[str, Any]:
    from modelops.artifact import load_artifact
    from modelops.serving.model import ServedModel

    loaded = load_artifact(artifact)
    started = time.perf_counter()
    served = ServedModel.from_artifact(loaded, artifact, name=name)
    load_s = time.perf_counter() - started
    estimator = loaded.model
    expected = np.asarray(estimator.predict(rows))
    if not np.array_equal(np.asarray(served.predict(rows)), expected):
        raise SystemExit(f"{name}: the served model's predictions differ from scikit-learn's")
    sklearn = _time_calls(estimator.predict, rows, min_calls=20, min_seconds=seconds)
    served_figures = _time_calls(served.predict, rows, min_calls=200, min_seconds=seconds)
    return {
        "predictor": served.predictor_description,
        "served_model_build_s": round(load_s, 3),
        "sklearn_predict": sklearn,
        "served_predict": served_figures,
        "speedup": round(sklearn["median_us"] / served_figures["median_us"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", action="append", default=[], help="NAME=DIR of a packaged model")
    parser.add_argument("--rows", type=Path, required=True, help="a .npy file of benchmark rows")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = np.load(args.rows)
    results = {}
    for spec in args.artifact:
        name, _, directory = spec.partition("=")
        results[name] = measure(name, Path(directory), rows, args.seconds)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

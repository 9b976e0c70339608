"""The benchmark's figures as Markdown tables (what the README quotes).

.venv/bin/python benchmarks/serving/report.py [benchmarks/results/serving.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parents[1] / "results" / "serving.json"


def markdown_table(results: dict[str, Any]) -> str:
    connections = results["settings"]["concurrent"]["connections"]
    lines = [
        f"| server | model | 1 client p50 / p99 (ms) | CPU per request, 1 client (ms) | {connections} clients rps "
        f"| {connections} clients p50 / p99 (ms) | CPU per request, {connections} clients (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        name = run["label"].split("/", 2)
        server = name[0] + (f" ({name[2]})" if len(name) > 2 else "")
        if "error" in run:
            lines.append(f"| {server} | {run['model']} | failed: {run['error'][:80]} | | | | |")
            continue
        single, many = run["single"], run["concurrent"]
        errors = f" ({many['error_count']} errors)" if many["error_count"] else ""
        lines.append(
            f"| {server} | {run['model']} "
            f"| {single['latency_ms']['p50']:.2f} / {single['latency_ms']['p99']:.1f} "
            f"| {single['server_cpu_ms_per_request']} "
            f"| {many['rps']:.0f}{errors} "
            f"| {many['latency_ms']['p50']:.0f} / {many['latency_ms']['p99']:.0f} "
            f"| {many['server_cpu_ms_per_request']} |"
        )
    return "\n".join(lines)


def in_process_table(results: dict[str, Any]) -> str:
    lines = [
        "| model | scikit-learn `predict`, one row (µs) | served `predict`, one row (µs) | speed-up "
        "| built and checked at load (s) | served by |",
        "|---|---|---|---|---|---|",
    ]
    for model, entry in results.get("in_process", {}).items():
        if "error" in entry:
            lines.append(f"| {model} | failed: {entry['error'][:80]} | | | | |")
            continue
        lines.append(
            f"| {model} | {entry['sklearn_predict']['median_us']:.0f} | {entry['served_predict']['median_us']:.0f} "
            f"| {entry['speedup']}x | {entry['served_model_build_s']} | {entry['predictor']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    results = json.loads(path.read_text())
    print(markdown_table(results))
    print()
    print(in_process_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

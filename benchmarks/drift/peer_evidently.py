"""Evidently's DataDriftPreset on the benchmark frames (runs in benchmarks/.venvs/evidently).

Usage: peer_evidently.py REFERENCE.npy CURRENT.npy -> one JSON line on stdout.
"""

import json
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

import_seconds = time.perf_counter() - t0


def main() -> None:
    ref_path, cur_path = sys.argv[1:3]
    ref = np.load(ref_path)
    cur = np.load(cur_path)
    columns = [f"f{i}" for i in range(ref.shape[1])]
    reference = pd.DataFrame(ref, columns=columns)
    current = pd.DataFrame(cur, columns=columns)
    t = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)  # current first
    seconds = time.perf_counter() - t
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        is_value_drift = config.get("type", "").endswith("ValueDrift")
        if is_value_drift and float(metric["value"]) >= float(config.get("threshold", 0.1)):
            drifted.append(config["column"])
    print(json.dumps({"seconds": seconds, "import_seconds": import_seconds, "drifted": drifted}))


if __name__ == "__main__":
    main()

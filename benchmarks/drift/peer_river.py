"""River's ADWIN per feature on the benchmark streams (runs in benchmarks/.venvs/river).

Usage: peer_river.py TRIALS.npy CHANGE NULL.npy WINDOW -> one JSON line on stdout.

TRIALS has shape (trials, rows, features); the shift starts at row CHANGE. One ADWIN
(default delta 0.002) per feature, alarming when any feature's detector fires. The delay
of a trial is the number of rows after the change until the first alarm (None: never).
NULL is an unshifted stream cut into windows of WINDOW rows: a window with any alarm
counts as a false alarm, for comparison with the per-window rate of modelops.
"""

import json
import sys

import numpy as np
from river.drift import ADWIN


def first_alarms(stream: np.ndarray, change: int) -> tuple[int | None, int]:
    detectors = [ADWIN() for _ in range(stream.shape[1])]
    before = 0
    for t, row in enumerate(stream.tolist(), start=1):
        fired = False
        for detector, value in zip(detectors, row, strict=True):
            detector.update(value)
            fired = fired or detector.drift_detected
        if fired:
            if t <= change:
                before += 1
            else:
                return t - change, before
    return None, before


def null_windows(stream: np.ndarray, window: int) -> tuple[int, int]:
    detectors = [ADWIN() for _ in range(stream.shape[1])]
    alarmed = 0
    alarms = 0
    for start in range(0, stream.shape[0] - window + 1, window):
        hit = False
        for row in stream[start : start + window].tolist():
            for detector, value in zip(detectors, row, strict=True):
                detector.update(value)
                if detector.drift_detected:
                    hit = True
                    alarms += 1
        alarmed += hit
    return alarmed, alarms


def main() -> None:
    trials = np.load(sys.argv[1])
    change = int(sys.argv[2])
    null = np.load(sys.argv[3])
    window = int(sys.argv[4])
    delays = []
    before = 0
    for stream in trials:
        delay, early = first_alarms(stream, change)
        delays.append(delay)
        before += early
    alarmed, alarms = null_windows(null, window)
    print(
        json.dumps(
            {
                "delays": delays,
                "alarms_before_change": before,
                "null_windows": null.shape[0] // window,
                "null_windows_alarmed": alarmed,
                "null_alarms": alarms,
            }
        )
    )


if __name__ == "__main__":
    main()

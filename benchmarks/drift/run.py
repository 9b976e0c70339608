"""Drift scoring benchmark: speed and detection quality, side by side with Evidently and River.

Run with `make bench-drift` (creates the peers' virtualenvs under benchmarks/.venvs/).
Data is generated here (seeded) into benchmarks/.work/drift/, results go to
benchmarks/results/drift.json, and the last line printed is the RATIOS line.

Speed, on reference and current frames of N(0, 1) columns with a +0.5 sigma mean shift
in 3 features, at 100k x 50 and 1M x 10:
- modelops end to end: bin the current rows against the profile's edges (the serving
  Binner) and score the counts (default settings: binned KS, sample-size-aware thresholds);
- modelops scoring from counts alone (what the operator does with merged /drift counts);
- exact numpy PSI on the raw rows (both frames binned from scratch);
- scipy.stats.ks_2samp per feature on the raw rows;
- Evidently 0.7.23 DataDriftPreset (its own venv).

The operator's side (``operator_eval``): REPLICAS serving replicas' ``/drift`` answers over
OP_FEATURES numeric features (one hour of one-minute buckets each, as JSON bytes; summed into
one bucket as ``/drift?summed=true`` answers, and per minute for comparison) parsed,
checked against the profile's layout, merged bucket-wise and scored, and the bounded
``lastEvaluation`` built: what one DriftPolicy evaluation costs the operator (target <= 50 ms).

Detection, on streams of 20 N(0, 1) features whose first CHANGE rows are unshifted and
whose rest has +0.5 sigma in 3 features: our detector evaluates every STEP rows the last
WINDOW rows with DriftSettings() defaults (hysteresis included); River's ADWIN (default
delta) runs per feature on the same streams, alarming when any feature alarms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from modelops.drift import scoring
from modelops.drift.binning import Binner
from modelops.drift.counts import CountsBucket, DriftCounts
from modelops.drift.evaluation import evaluate, score_counts
from modelops.drift.hysteresis import DriftState, advance
from modelops.drift.layout import layouts_of
from modelops.drift.profile import Profile, categorical_profile, numeric_profile
from modelops.drift.settings import DriftSettings
from modelops.operator.driftpolicy import observe

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "benchmarks" / ".work" / "drift"
VENVS = ROOT / "benchmarks" / ".venvs"
RESULTS = ROOT / "benchmarks" / "results" / "drift.json"

SHIFT = 0.5
SHIFTED = (0, 1, 2)
STREAM_FEATURES = 20
REFERENCE_ROWS = 20_000
CHANGE = 600
POST_CHANGE = 1000
WINDOW = 200
STEP = 10
NULL_WINDOWS = 1000
SWEEP = ((100, 10, 2), (150, 10, 2), (150, 5, 1), (200, 10, 1), (300, 10, 2))  # window, step, consecutive
MAX_WINDOW = max(w for w, _, _ in SWEEP)
REPLICAS = 20
OP_FEATURES = 200
OP_BUCKETS = 60
OPERATOR_EVAL_TARGET_MS = 50.0


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls (after one warm-up call) and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def make_profile(reference: np.ndarray) -> Profile:
    features = tuple(numeric_profile(f"f{i}", reference[:, i]) for i in range(reference.shape[1]))
    output = categorical_profile("output", ["0", "1"])
    return Profile(features=features, output=output)


def exact_psi(profile: Profile, reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """PSI per feature from raw rows: both frames binned from scratch (plain numpy)."""
    eps = scoring.PSI_EPSILON
    out = np.empty(reference.shape[1])
    for i, feature in enumerate(profile.features):
        edges = np.asarray(feature.edges)
        bins = edges.size + 2
        parts = []
        for frame in (reference, current):
            column = frame[:, i]
            idx = np.searchsorted(edges, column, side="left")
            idx[np.isnan(column)] = bins - 1
            share = np.bincount(idx, minlength=bins) / column.size
            parts.append((share + eps) / (1 + eps * bins))
        p, q = parts
        out[i] = np.sum((q - p) * np.log(q / p))
    return out


def ks_exact(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    return np.array([stats.ks_2samp(reference[:, i], current[:, i]).statistic for i in range(reference.shape[1])])


def run_peer(venv: str, script: str, *args: str) -> dict[str, Any]:
    python = VENVS / venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `make bench-drift`, which creates the peers' venvs")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name(script)), *args],
        check=True, capture_output=True, text=True, env=env, cwd=str(WORK),
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def speed(n: int, f: int, seed: int, skip_evidently: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(n, f))
    current = rng.normal(size=(n, f))
    current[:, list(SHIFTED)] += SHIFT
    t = time.perf_counter()
    profile = make_profile(reference)
    profile_seconds = time.perf_counter() - t
    binner = Binner(profile)
    layout = layouts_of(profile).features
    settings = DriftSettings()

    def end_to_end() -> Any:
        return score_counts(layout, Binner(profile).feature_counts(current), n, settings)

    counts = binner.feature_counts(current)
    e2e_s, evaluation = timed(end_to_end, 5)
    scoring_s, _ = timed(lambda: score_counts(layout, counts, n, settings), 200)
    psi_s, psi_exact = timed(lambda: exact_psi(profile, reference, current), 3)
    ks_s, ks_raw = timed(lambda: ks_exact(reference, current), 1)

    ours_psi = scoring.psi(layout.reference, counts, layout.bins)
    mask, values = layout.value_mask, layout.values
    d_bin, d_upper = scoring.ks_bracket(layout.reference_values, counts[mask], values)
    largest = max(
        float(np.max(c / np.repeat(values.sum(c), values.lengths)))
        for c in (layout.reference_values, counts[mask])
    )
    row: dict[str, Any] = {
        "rows": n,
        "features": f,
        "profile_build_s": profile_seconds,
        "modelops_end_to_end_s": e2e_s,
        "modelops_scoring_from_counts_s": scoring_s,
        "numpy_exact_psi_s": psi_s,
        "scipy_ks_2samp_s": ks_s,
        "drifted_features_modelops": np.flatnonzero(evaluation.drifted).tolist(),
        "psi_max_abs_err": float(np.max(np.abs(ours_psi - psi_exact))),
        "ks_max_abs_err": float(np.max(np.abs(d_bin - ks_raw))),
        "ks_bound": float(np.max(d_upper - d_bin)),
        "ks_bound_largest_bin_mass": largest,
        "ks_within_bound": bool(np.all((d_bin <= ks_raw + 1e-12) & (ks_raw <= d_upper + 1e-12))),
    }
    if not skip_evidently:
        WORK.mkdir(parents=True, exist_ok=True)
        ref_path, cur_path = WORK / f"ref_{n}x{f}.npy", WORK / f"cur_{n}x{f}.npy"
        np.save(ref_path, reference)
        np.save(cur_path, current)
        peer = run_peer("evidently", "peer_evidently.py", str(ref_path), str(cur_path))
        row["evidently_s"] = peer["seconds"]
        row["evidently_import_s"] = peer["import_seconds"]
        row["drifted_features_evidently"] = sorted(int(c[1:]) for c in peer["drifted"])
        row["speedup_vs_evidently"] = peer["seconds"] / e2e_s
        ref_path.unlink()
        cur_path.unlink()
    row["speedup_vs_numpy_psi"] = psi_s / e2e_s
    row["speedup_vs_ks_2samp"] = ks_s / e2e_s
    return row


def replica_answers(profile: Profile, seed: int, buckets: int, rows_per_bucket: int = 50,
                    summed: bool = True) -> dict[str, bytes]:
    """Each replica's ``/drift`` body: ``buckets`` one-minute buckets of shifted rows, binned by the
    serving Binner; ``summed``: added into one bucket, as ``/drift?summed=true`` answers (what the
    DriftPolicy scraper asks for), else one bucket per minute (a replica that predates it)."""
    rng = np.random.default_rng(seed)
    binner = Binner(profile)
    n_features = len(profile.features)
    answers = {}
    for r in range(REPLICAS):
        made = []
        for b in range(buckets):
            rows = rng.normal(size=(rows_per_bucket, n_features))
            rows[:, :10] += SHIFT
            made.append(CountsBucket(start=60 * b, rows=rows_per_bucket, counts=binner.feature_counts(rows),
                                        output=np.array([rows_per_bucket // 2, rows_per_bucket - rows_per_bucket // 2,
                                                         0][: profile.output.n_bins])))
        counts = DriftCounts.empty(profile, model="m", version="v1", bucket_seconds=60, start=0, end=60 * buckets)
        counts = replace(counts, buckets=tuple(made))
        answers[f"pod-{r}"] = json.dumps((counts.summed() if summed else counts).to_json()).encode()
    return answers


def operator_eval(seed: int) -> dict[str, Any]:
    """One DriftPolicy evaluation on the operator: parse, check, merge, score, summarise; for a
    1h window of 1-minute buckets (the defaults) and for a 5m window, as the replicas answer the
    scraper (``summed=true``: one bucket each), and the 1h window as per-minute buckets
    (``_buckets``: replicas that predate ``summed``), to show what the bytes cost."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(5000, OP_FEATURES))
    features = tuple(numeric_profile(f"x{i}", reference[:, i]) for i in range(OP_FEATURES))
    profile = Profile(features=features, output=categorical_profile("y", ["0", "1"]))
    settings = DriftSettings(min_samples=500)
    out: dict[str, Any] = {"replicas": REPLICAS, "features": OP_FEATURES, "target_ms": OPERATOR_EVAL_TARGET_MS}
    for label, buckets, summed in (("", OP_BUCKETS, True), ("_5m", 5, True), ("_buckets", OP_BUCKETS, False)):
        answers = replica_answers(profile, seed + 1, buckets, summed=summed)

        def once(answers: dict[str, bytes] = answers) -> Any:
            merged = observe.merge_replicas(profile, answers)
            assert merged.counts is not None
            assert not merged.left_out
            scores = evaluate(profile, merged.counts, settings)
            return observe.summarize(scores, datetime.now(UTC), accuracy=observe.Accuracy(None, 0), concept=None,
                                     accuracy_minimum=None, replicas=merged)

        seconds, (summary, status) = timed(once, 10)
        out.update({
            f"buckets_per_replica{label}": buckets,
            f"payload_bytes{label}": sum(len(a) for a in answers.values()),
            f"rows{label}": summary.samples,
            f"drifted_features{label}": summary.drifted_features,
            f"listed_features{label}": len(status["features"]),
            f"operator_eval_ms{label}": seconds * 1e3,
        })
    return out


def update_cost(seed: int) -> dict[str, Any]:
    """The serving runtime's per-batch update: bin the rows and add them to a bucket."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    cases: list[tuple[str, int, int]] = [("numeric50", 50, 0), ("mixed45+5cat", 45, 5)]
    for name, n_num, n_cat in cases:
        ref = rng.normal(size=(5000, n_num))
        cats = [categorical_profile(f"c{i}", rng.choice(list("abcdefgh"), size=2000)) for i in range(n_cat)]
        features = tuple(numeric_profile(f"x{i}", ref[:, i]) for i in range(n_num)) + tuple(cats)
        profile = Profile(features=features, output=categorical_profile("y", ["0", "1"]))
        binner = Binner(profile)
        bucket = np.zeros(binner.total_bins, dtype=np.int64)
        f = n_num + n_cat
        for batch in (1, 64):
            if n_cat:
                rows = np.empty((batch, f), dtype=object)
                rows[:, :n_num] = rng.normal(size=(batch, n_num))
                rows[:, n_num:] = rng.choice(list("abcdefghij"), size=(batch, n_cat))
            else:
                rows = rng.normal(size=(batch, f))
            reps = 4000 // batch + 50
            seconds, _ = timed(lambda b=binner, r=rows, c=bucket, n=reps: _updates(b, r, c, n), 5)
            out[f"{name}_batch{batch}_us_per_feature_row"] = seconds / reps / batch / f * 1e6
    return out


def _updates(binner: Binner, rows: np.ndarray, bucket: np.ndarray, times: int) -> None:
    for _ in range(times):
        bucket += binner.feature_counts(rows)


def stream_profile(seed: int) -> Profile:
    rng = np.random.default_rng(seed)
    return make_profile(rng.normal(size=(REFERENCE_ROWS, STREAM_FEATURES)))


def make_streams(seed: int, trials: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    streams = rng.normal(size=(trials, CHANGE + POST_CHANGE, STREAM_FEATURES))
    streams[:, CHANGE:, list(SHIFTED)] += SHIFT
    null = rng.normal(size=(NULL_WINDOWS * MAX_WINDOW, STREAM_FEATURES))
    return streams, null


def our_delays(
    profile: Profile, streams: np.ndarray, window: int, step: int, settings: DriftSettings
) -> tuple[list[int | None], int]:
    binner = Binner(profile)
    layout = layouts_of(profile).features
    delays: list[int | None] = []
    before = 0
    for stream in streams:
        idx = binner.feature_indices(stream)
        onehot = np.zeros((stream.shape[0], binner.total_bins), dtype=np.int32)
        np.put_along_axis(onehot, idx, 1, axis=1)
        cum = np.zeros((stream.shape[0] + 1, binner.total_bins), dtype=np.int64)
        np.cumsum(onehot, axis=0, out=cum[1:])
        state = DriftState()
        delay = None
        for t in range(window, stream.shape[0] + 1, step):
            result = score_counts(layout, cum[t] - cum[t - window], window, settings)
            state = advance(state, result.verdict, settings.consecutive)
            if state.detected:
                if t <= CHANGE:
                    before += 1
                    state = DriftState()
                else:
                    delay = t - CHANGE
                    break
        delays.append(delay)
    return delays, before


def our_null(profile: Profile, null: np.ndarray, window: int, settings: DriftSettings) -> dict[str, Any]:
    binner = Binner(profile)
    layout = layouts_of(profile).features
    drifted = 0
    set_events = 0
    state = DriftState()
    windows = null.shape[0] // window
    for w in range(windows):
        counts = binner.feature_counts(null[w * window : (w + 1) * window])
        verdict = score_counts(layout, counts, window, settings).verdict
        drifted += verdict == "Drifted"
        new = advance(state, verdict, settings.consecutive)
        set_events += new.detected and not state.detected
        state = new
    return {"windows": windows, "drifted_windows": drifted, "false_alarm_rate": drifted / windows,
            "drift_detected_set_events": set_events}


def summarize(delays: list[int | None]) -> dict[str, Any]:
    hit = [d for d in delays if d is not None]
    return {
        "trials": len(delays),
        "detected": len(hit),
        "mean_delay": statistics.fmean(hit) if hit else None,
        "median_delay": statistics.median(hit) if hit else None,
        "p90_delay": float(np.percentile(hit, 90)) if hit else None,
    }


def detection(seed: int, trials: int) -> dict[str, Any]:
    profile = stream_profile(seed)
    streams, null = make_streams(seed + 1, trials)
    WORK.mkdir(parents=True, exist_ok=True)
    trials_path, null_path = WORK / "streams.npy", WORK / "null.npy"
    np.save(trials_path, streams)
    np.save(null_path, null)
    adwin = run_peer("river", "peer_river.py", str(trials_path), str(CHANGE), str(null_path), str(WINDOW))
    trials_path.unlink()
    null_path.unlink()
    adwin_summary = summarize(adwin["delays"])
    adwin_summary.update(
        alarms_before_change=adwin["alarms_before_change"],
        null_windows=adwin["null_windows"],
        null_windows_alarmed=adwin["null_windows_alarmed"],
        false_alarm_rate=adwin["null_windows_alarmed"] / adwin["null_windows"],
    )
    defaults = DriftSettings()
    delays, before = our_delays(profile, streams, WINDOW, STEP, defaults)
    ours = {
        **summarize(delays),
        "alarms_before_change": before,
        "window": WINDOW,
        "step": STEP,
        "settings": "DriftSettings() defaults",
        **our_null(profile, null[: NULL_WINDOWS * WINDOW], WINDOW, defaults),
    }
    sweep = []
    for window, step, consecutive in SWEEP:
        s = DriftSettings(consecutive=consecutive)
        d, b = our_delays(profile, streams, window, step, s)
        null_w = null[: NULL_WINDOWS * window]
        sweep.append({"window": window, "step": step, "consecutive": consecutive, **summarize(d),
                      "alarms_before_change": b, **our_null(profile, null_w, window, s)})
    for row in sweep:
        if row["mean_delay"] is not None and adwin_summary["mean_delay"]:
            row["delay_vs_adwin"] = row["mean_delay"] / adwin_summary["mean_delay"]
    return {
        "stream": {"features": STREAM_FEATURES, "shifted": list(SHIFTED), "shift_sigma": SHIFT,
                   "change_at_row": CHANGE, "rows_after_change": POST_CHANGE, "trials": trials,
                   "reference_rows": REFERENCE_ROWS},
        "modelops": ours,
        "adwin": adwin_summary,
        "delay_vs_adwin": (ours["mean_delay"] or float("inf")) / (adwin_summary["mean_delay"] or float("nan")),
        "sweep": sweep,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no Evidently (smoke run)")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--operator-only", action="store_true",
                        help="only the operator's evaluation (no peers' venvs needed; nothing written)")
    args = parser.parse_args()
    if args.operator_only:
        operator = operator_eval(args.seed)
        print(json.dumps(operator), flush=True)
        print(f"RATIOS operator_eval_ms={operator['operator_eval_ms']:.1f} "
              f"operator_eval_ms_5m={operator['operator_eval_ms_5m']:.1f} "
              f"operator_eval_ms_buckets={operator['operator_eval_ms_buckets']:.1f}")
        return
    sizes = [(20_000, 10)] if args.quick else [(100_000, 50), (1_000_000, 10)]
    trials = 20 if args.quick else 200
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "speed": [],
    }
    for i, (n, f) in enumerate(sizes):
        row = speed(n, f, args.seed + i, skip_evidently=args.quick)
        report["speed"].append(row)
        print(json.dumps(row), flush=True)
    report["operator"] = operator_eval(args.seed)
    print(json.dumps(report["operator"]), flush=True)
    report["update"] = update_cost(args.seed)
    print(json.dumps(report["update"]), flush=True)
    report["detection"] = detection(args.seed, trials)
    print(json.dumps({k: v for k, v in report["detection"].items() if k != "sweep"}), flush=True)
    for row in report["detection"]["sweep"]:
        print(json.dumps(row), flush=True)

    speedups = [r["speedup_vs_evidently"] for r in report["speed"] if "speedup_vs_evidently" in r]
    ratios = {
        "speedup_vs_evidently": min(speedups) if speedups else float("nan"),
        "psi_max_abs_err": max(r["psi_max_abs_err"] for r in report["speed"]),
        "ks_max_abs_err": max(r["ks_max_abs_err"] for r in report["speed"]),
        "ks_bound": max(r["ks_bound"] for r in report["speed"]),
        "false_alarm_rate": report["detection"]["modelops"]["false_alarm_rate"],
        "delay_vs_adwin": report["detection"]["delay_vs_adwin"],
        "update_us_per_feature": report["update"]["numeric50_batch64_us_per_feature_row"],
        "operator_eval_ms": report["operator"]["operator_eval_ms"],
        "operator_eval_ms_5m": report["operator"]["operator_eval_ms_5m"],
        "operator_eval_ms_buckets": report["operator"]["operator_eval_ms_buckets"],
    }
    report["ratios"] = ratios
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        "RATIOS "
        f"speedup_vs_evidently={ratios['speedup_vs_evidently']:.0f} "
        f"psi_max_abs_err={ratios['psi_max_abs_err']:.1e} "
        f"ks_max_abs_err={ratios['ks_max_abs_err']:.4f} "
        f"ks_bound={ratios['ks_bound']:.4f} "
        f"false_alarm_rate={ratios['false_alarm_rate']:.4f} "
        f"delay_vs_adwin={ratios['delay_vs_adwin']:.2f} "
        f"update_us_per_feature={ratios['update_us_per_feature']:.3f} "
        f"operator_eval_ms={ratios['operator_eval_ms']:.1f} "
        f"operator_eval_ms_5m={ratios['operator_eval_ms_5m']:.1f} "
        f"operator_eval_ms_buckets={ratios['operator_eval_ms_buckets']:.1f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

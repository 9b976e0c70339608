"""The headline ratios of the serving benchmark, each with its definition and the figures it compares."""

from __future__ import annotations

from typing import Any

SCIKIT_LEARN_VARIANT = "scikit-learn-predict"  # run.py's modelops runs through scikit-learn

DEFINITIONS = {
    "p50_vs_bare": (
        "single-client p50 latency of `modelops serve` (monitoring on: drift counts, metrics, prediction "
        "store; batching on, the configuration also used for throughput) divided by the single-client p50 "
        "of the bare FastAPI + uvicorn app on the same model. Target: see `target` (<= 1.2 for "
        "LogisticRegression, <= 0.3 for RandomForest(100), <= 0.5 for HistGradientBoosting(200))."
    ),
    "rps_vs_mlserver": (
        "requests/s at 64 connections of `modelops serve` divided by MLServer's best requests/s at 64 "
        "connections (best of batching on/off). modelops' figure is its best configuration whose p99 is "
        "equal to or lower than that MLServer run's p99; if none is, its best configuration anyway and "
        "p99_condition_met is false. Both p99s are recorded. Target: see `target` (>= 1.5 for "
        "LogisticRegression, >= 5 for RandomForest(100))."
    ),
    "batch_gain_rf": (
        "requests/s at 64 connections of `modelops serve` on RandomForest with batching on divided by the "
        "same with batching off (--max-batch-size 1). Target >= 3. Served as deployed, that is by the direct "
        "predictor; `scikit_learn_predict` holds the same ratio for the same model served through "
        "scikit-learn's predict (--no-direct-predictors), as a model without a direct predictor is. Both "
        "with the server's CPU ms per request batched and unbatched."
    ),
    "predict_us": (
        "in-process one-row predict of the served model (`ServedModel.predict`, as `modelops serve` calls "
        "it: the direct predictor when one was proven equal), median microseconds over single calls "
        "cycling through the benchmark rows, in a process pinned to the server core with one thread."
    ),
}
# Per entry of the RATIOS line: (operator, target). Tree ensembles have direct predictors, so their
# single-client latency is measured against a fraction of the bare app's.
TARGETS = {
    "p50_vs_bare_lr": ("<=", 1.2),
    "p50_vs_bare_rf": ("<=", 0.3),
    "p50_vs_bare_hgb": ("<=", 0.5),
    "rps_vs_mlserver_lr": (">=", 1.5),
    "rps_vs_mlserver_rf": (">=", 5.0),
    "batch_gain_rf": (">=", 3.0),
    "predict_us_rf100": ("<=", 500.0),
}


def _find(
    runs: list[dict[str, Any]], server: str, model: str, batching: bool | None = None, variant: str = ""
) -> list[dict[str, Any]]:
    """The runs of one server, model and (modelops) variant: "" is `modelops serve` as deployed,
    "scikit-learn-predict" the same served through scikit-learn, never counted as modelops' own."""
    return [
        run
        for run in runs
        if run["server"] == server
        and run["model"] == model
        and (batching is None or run["batching"] == batching)
        and (server != "modelops" or run.get("variant", "") == variant)
        and "error" not in run
    ]


def _entry(name: str, kind: str, value: float | None, **figures: Any) -> dict[str, Any]:
    op, target = TARGETS[name]
    met = None if value is None else (value <= target if op == "<=" else value >= target)
    return {
        "value": None if value is None else round(value, 3),
        "target": f"{op} {target}",
        "met": met,
        "definition": DEFINITIONS[kind],
        **figures,
    }


def _divide(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _summary(run: dict[str, Any], phase: str) -> dict[str, Any]:
    figures = run[phase]
    return {
        "run": run["label"],
        "rps": figures["rps"],
        "p50_ms": figures["latency_ms"]["p50"],
        "p99_ms": figures["latency_ms"]["p99"],
        "errors": figures["error_count"],
    }


def p50_vs_bare(runs: list[dict[str, Any]], model: str, name: str) -> dict[str, Any]:
    ours, bare = _find(runs, "modelops", model, batching=True), _find(runs, "bare", model)
    if not ours or not bare:
        return _entry(name, "p50_vs_bare", None, reason="missing modelops or bare run")
    value = _divide(ours[0]["single"]["latency_ms"]["p50"], bare[0]["single"]["latency_ms"]["p50"])
    extra: dict[str, Any] = {}
    unbatched = _find(runs, "modelops", model, batching=False)
    if unbatched:
        unbatched_value = _divide(unbatched[0]["single"]["latency_ms"]["p50"], bare[0]["single"]["latency_ms"]["p50"])
        extra["unbatched_value"] = None if unbatched_value is None else round(unbatched_value, 3)
    return _entry(
        name,
        "p50_vs_bare",
        value,
        modelops=_summary(ours[0], "single"),
        bare=_summary(bare[0], "single"),
        **extra,
    )


def rps_vs_mlserver(runs: list[dict[str, Any]], model: str, name: str) -> dict[str, Any]:
    # A run that completed no request within its duration has no p99 to compare.
    ours = [run for run in _find(runs, "modelops", model) if run["concurrent"]["requests"] > 0]
    theirs = [run for run in _find(runs, "mlserver", model) if run["concurrent"]["requests"] > 0]
    if not ours or not theirs:
        return _entry(name, "rps_vs_mlserver", None, reason="missing modelops or MLServer run with completed requests")
    best_theirs = max(theirs, key=lambda run: run["concurrent"]["rps"])
    p99_limit = best_theirs["concurrent"]["latency_ms"]["p99"]
    eligible = [run for run in ours if run["concurrent"]["latency_ms"]["p99"] <= p99_limit]
    best_ours = max(eligible or ours, key=lambda run: run["concurrent"]["rps"])
    value = _divide(best_ours["concurrent"]["rps"], best_theirs["concurrent"]["rps"])
    return _entry(
        name,
        "rps_vs_mlserver",
        value,
        p99_condition_met=bool(eligible),
        modelops=_summary(best_ours, "concurrent"),
        mlserver=_summary(best_theirs, "concurrent"),
    )


def _gain(runs: list[dict[str, Any]], model: str, variant: str) -> dict[str, Any] | None:
    on = _find(runs, "modelops", model, batching=True, variant=variant)
    off = _find(runs, "modelops", model, batching=False, variant=variant)
    if not on or not off:
        return None
    value = _divide(on[0]["concurrent"]["rps"], off[0]["concurrent"]["rps"])
    return {
        "value": None if value is None else round(value, 3),
        "cpu_ms_per_request_batched": on[0]["concurrent"]["server_cpu_ms_per_request"],
        "cpu_ms_per_request_unbatched": off[0]["concurrent"]["server_cpu_ms_per_request"],
        "batched": _summary(on[0], "concurrent"),
        "unbatched": _summary(off[0], "concurrent"),
    }


def batch_gain(runs: list[dict[str, Any]], model: str, name: str) -> dict[str, Any]:
    """The gain as deployed (the direct predictor), plus the same model served through scikit-learn
    when measured: what batching buys a model without a direct predictor."""
    deployed = _gain(runs, model, "")
    if deployed is None:
        return _entry(name, "batch_gain_rf", None, reason="missing a modelops run with batching on or off")
    through_sklearn = _gain(runs, model, SCIKIT_LEARN_VARIANT)
    value = deployed.pop("value")
    return _entry(
        name,
        "batch_gain_rf",
        value,
        **deployed,
        scikit_learn_predict=through_sklearn if through_sklearn is not None else "not measured",
    )


def predict_us(in_process: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    figures = in_process.get(model)
    if not figures or "error" in figures:
        return _entry(name, "predict_us", None, reason=f"no in-process measurement of {model}")
    return _entry(
        name,
        "predict_us",
        figures["served_predict"]["median_us"],
        predictor=figures["predictor"],
        sklearn_median_us=figures["sklearn_predict"]["median_us"],
    )


def compute(runs: list[dict[str, Any]], in_process: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "p50_vs_bare_lr": p50_vs_bare(runs, "lr", "p50_vs_bare_lr"),
        "p50_vs_bare_rf": p50_vs_bare(runs, "rf", "p50_vs_bare_rf"),
        "p50_vs_bare_hgb": p50_vs_bare(runs, "hgb", "p50_vs_bare_hgb"),
        "rps_vs_mlserver_lr": rps_vs_mlserver(runs, "lr", "rps_vs_mlserver_lr"),
        "rps_vs_mlserver_rf": rps_vs_mlserver(runs, "rf", "rps_vs_mlserver_rf"),
        "batch_gain_rf": batch_gain(runs, "rf", "batch_gain_rf"),
        "predict_us_rf100": predict_us(in_process, "rf", "predict_us_rf100"),
    }


def ratios_line(ratios: dict[str, dict[str, Any]]) -> str:
    def fmt(name: str, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.0f}" if name.startswith("predict_us") else f"{value:.2f}"

    return "RATIOS " + " ".join(f"{name}={fmt(name, entry['value'])}" for name, entry in ratios.items())

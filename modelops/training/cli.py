"""`modelops train`: the built-in trainer a DriftPolicy's retraining Job runs.

Progress lines go to stderr, the result JSON to stdout and (at most 4096 bytes) to
``--termination-log``, where Kubernetes hands it to the operator as the container's
termination message. Exit status: 0 when the trainer reached a verdict (Succeeded or
GateFailed: a failed gate is an answer, and must not make the Job retry), 1 when it
failed (Failed, with the reason), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_TERMINATION_LOG = Path("/dev/termination-log")


def register(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset-uri", required=True, help="CSV or Parquet: path, file://, http(s)://, s3://")
    data.add_argument("--target", required=True, help="the target column")
    data.add_argument("--features", help="comma-separated feature columns (default: every column but the target)")
    data.add_argument("--categorical", help="comma-separated features profiled as categorical "
                      "(default: the non-numeric ones)")
    data.add_argument("--holdout-fraction", type=float, default=0.2, help="share of rows held out (default 0.2)")
    data.add_argument("--seed", type=int, default=0, help="seed of the split and of the estimator (default 0)")
    data.add_argument("--max-dataset-bytes", type=int, help="refuse a larger dataset (default 2 GiB)")
    data.add_argument("--dataset-deadline", type=float, help="seconds a remote read may take in total (default 600)")
    model = parser.add_argument_group("model")
    model.add_argument("--estimator", default="sklearn.ensemble.HistGradientBoostingClassifier",
                       help="import path of an allowed scikit-learn estimator")
    model.add_argument("--params", default="{}", help="estimator parameters as a JSON object")
    model.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature in the profile")
    gate = parser.add_argument_group("champion and gate")
    gate.add_argument("--champion-uri", help="the stable version's artifact uri")
    gate.add_argument("--champion-sha256", help="the stable version's artifact digest")
    gate.add_argument("--champion-trusted", action="store_true", help="the champion may be a joblib pickle")
    gate.add_argument("--allow-version-skew", action="store_true",
                      help="load a champion built with another scikit-learn major.minor")
    gate.add_argument("--gate-metric", help="default: roc_auc for classifiers, rmse for regressors")
    gate.add_argument("--min-improvement", type=float, default=0.0,
                      help="how much the challenger must improve the gate metric (in its direction)")
    out = parser.add_argument_group("output and lineage")
    out.add_argument("--output-uri", required=True, help="directory for artifacts: path, file://, s3://")
    out.add_argument("--name", required=True, help="the artifact's directory under --output-uri "
                     "(the ModelVersion's name)")
    out.add_argument("--parent", help="the ModelVersion retrained from")
    out.add_argument("--job", help="the training Job's name")
    out.add_argument("--drift-policy", help="the DriftPolicy that asked for it")
    out.add_argument("--drift-evaluation", help="time of the drift evaluation that triggered it (RFC 3339)")
    out.add_argument("--created-at", help="the artifact's createdAt (RFC 3339; default: --drift-evaluation)")
    out.add_argument("--termination-log", type=Path, default=DEFAULT_TERMINATION_LOG,
                     help=f"where the result JSON goes (default {DEFAULT_TERMINATION_LOG})")


def run(args: argparse.Namespace) -> int:
    from modelops.artifact.errors import ArtifactError
    from modelops.datasets import DatasetError
    from modelops.evaluation import EvaluationError
    from modelops.training.errors import TrainingError
    from modelops.training.result import TrainResult, encode
    from modelops.training.train import train

    def say(line: str) -> None:
        print(f"modelops train: {line}", file=sys.stderr, flush=True)

    try:
        options = options_from(args)
    except TrainingError as exc:
        print(f"modelops train: error: {exc}", file=sys.stderr)
        _write_result(args.termination_log, encode(TrainResult("Failed", exc.reason, exc.message)), say)
        return 2
    try:
        result = train(options, say)
    except (TrainingError, DatasetError, EvaluationError, ArtifactError) as exc:
        result = TrainResult("Failed", exc.reason, exc.message, model_version=options.name)
        say(f"failed: {exc}")
    data = encode(result)
    print(data.decode())
    _write_result(args.termination_log, data, say)
    return 1 if result.result == "Failed" else 0


def options_from(args: argparse.Namespace) -> Any:
    """The TrainOptions the parsed args say; TrainingError for params or times that are not."""
    from modelops.datasets import DEFAULT_DEADLINE_S, DEFAULT_MAX_BYTES
    from modelops.training.errors import TrainingError
    from modelops.training.train import TrainOptions, parse_time

    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise TrainingError("InvalidParams", f"--params is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise TrainingError("InvalidParams", "--params must be a JSON object")
    created_at = None
    if args.created_at:
        created_at = parse_time(args.created_at)
        if created_at is None:
            raise TrainingError("InvalidOptions", f"--created-at {args.created_at!r} is not an RFC 3339 time")
    return TrainOptions(
        dataset_uri=args.dataset_uri,
        target=args.target,
        name=args.name,
        output_uri=args.output_uri,
        estimator=args.estimator,
        params=params,
        features=_split(args.features),
        categorical=_split(args.categorical),
        champion_uri=args.champion_uri,
        champion_sha256=args.champion_sha256,
        champion_trusted=args.champion_trusted,
        allow_version_skew=args.allow_version_skew,
        gate_metric=args.gate_metric,
        min_improvement=args.min_improvement,
        parent=args.parent,
        job=args.job,
        drift_policy=args.drift_policy,
        drift_evaluation=args.drift_evaluation,
        created_at=created_at,
        seed=args.seed,
        holdout_fraction=args.holdout_fraction,
        bins=args.bins,
        max_dataset_bytes=args.max_dataset_bytes or DEFAULT_MAX_BYTES,
        dataset_deadline_s=args.dataset_deadline or DEFAULT_DEADLINE_S,
    )


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _write_result(path: Path, data: bytes, say: Any) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:  # outside a pod there may be no /dev/termination-log: not fatal
        say(f"could not write the result to {path}: {exc.strerror or exc}")

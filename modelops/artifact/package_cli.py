"""`modelops package`: build an artifact directory from a fitted model and reference data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="fitted estimator: .skops, or .joblib with --trusted")
    parser.add_argument("--reference", required=True,
                        help="reference/holdout data: .csv or .parquet, a path or a file://, http(s)://, s3:// uri")
    parser.add_argument("--target", required=True, help="the target column of the reference data")
    parser.add_argument("--out", required=True, type=Path, help="artifact directory to create (absent or empty)")
    parser.add_argument("--format", choices=("skops", "joblib"), default="skops", help="model file format")
    parser.add_argument("--features", help="comma-separated feature columns, in the model's order "
                        "(default: the model's feature_names_in_, else every column but the target)")
    parser.add_argument("--categorical", help="comma-separated features to profile as categorical "
                        "(default: the non-numeric columns)")
    parser.add_argument("--lineage-json", help="JSON object recorded as metadata.json lineage")
    parser.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature (default 10)")
    parser.add_argument("--trusted", action="store_true", help="allow reading a pickle (.joblib/.pkl) model")
    parser.add_argument("--mlflow-run", metavar="RUN_ID",
                        help="record params, offline metrics and the digest in this MLflow run, and the run in "
                        "lineage (needs pip install 'modelops[mlflow]')")
    parser.add_argument("--mlflow-tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")


def run(args: argparse.Namespace) -> int:
    from modelops.artifact.errors import ArtifactError
    from modelops.datasets import DatasetError
    from modelops.experiments import ExperimentLinkError

    try:
        sha = _package(args)
    except (ArtifactError, DatasetError, ExperimentLinkError) as exc:
        return _fail(f"{exc.reason}: {exc.message}")
    except (ValueError, KeyError, OSError) as exc:
        return _fail(str(exc))
    print(f"artifact written to {args.out}")
    print(sha)
    return 0


def _fail(message: str) -> int:
    print(f"modelops package: error: {message}", file=sys.stderr)
    return 1


def _package(args: argparse.Namespace) -> str:
    from modelops.artifact.build import build_artifact
    from modelops.artifact.serialization import load_fitted_model
    from modelops.datasets import read_dataset

    lineage = _lineage(args.lineage_json)
    run = None
    if args.mlflow_run:
        from modelops import experiments

        # First: the run must exist before the artifact names it (its digest covers the lineage).
        run = experiments.attach(args.mlflow_run, args.mlflow_tracking_uri)
        lineage = {**(lineage or {}), "experimentRun": run.lineage()}
    model = load_fitted_model(args.model, trusted=args.trusted)
    frame = read_dataset(args.reference).frame
    if args.target not in frame.columns:
        raise ValueError(f"{args.reference} has no target column {args.target!r}")
    features = _split(args.features) or _default_features(model, frame, args.target)
    categorical = set(_split(args.categorical))
    unknown = categorical - set(features)
    if unknown:
        raise ValueError(f"--categorical names columns that are not features: {', '.join(sorted(unknown))}")
    feature_types: dict[str, Any] = dict.fromkeys(categorical, "categorical")
    sha = build_artifact(
        model,
        frame,
        features,
        frame[args.target].to_numpy(),
        args.out,
        format=args.format,
        feature_types=feature_types,
        lineage=lineage,
        n_bins=args.bins,
        target_name=args.target,
    )
    if run is not None:
        _record(run, model, args.out, sha)
    return sha


def _record(run: Any, model: Any, out: Path, sha: str) -> None:
    """The estimator, its params, the offline metrics and the digest, into the MLflow run."""
    from modelops import experiments
    from modelops.artifact.format import METADATA_FILE
    from modelops.artifact.metadata import Metadata

    metadata = Metadata.from_bytes((out / METADATA_FILE).read_bytes())
    params: dict[str, Any] = {"modelops.estimator": f"{type(model).__module__}.{type(model).__qualname__}"}
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        params.update({f"modelops.params.{k}": v for k, v in get_params(deep=False).items()})
    experiments.record(run, params=params, metrics=metadata.offline_metrics, digest=sha,
                       artifact_uri=out.resolve().as_uri())


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _default_features(model: Any, frame: Any, target: str) -> list[str]:
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        return [str(name) for name in fitted]
    return [str(c) for c in frame.columns if c != target]


def _lineage(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--lineage-json is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("--lineage-json must be a JSON object")
    return value

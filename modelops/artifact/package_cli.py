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


def run(args: argparse.Namespace) -> int:
    from modelops.artifact.errors import ArtifactError
    from modelops.datasets import DatasetError

    try:
        sha = _package(args)
    except (ArtifactError, DatasetError) as exc:
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
    return build_artifact(
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

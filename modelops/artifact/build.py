"""Building an artifact directory from a fitted model and its reference data."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import (
    MANIFEST_FILE,
    METADATA_FILE,
    MODEL_FILES,
    MODEL_FORMATS,
    PROFILE_FILE,
    ModelFormat,
)
from modelops.artifact.loading import review_skops_types
from modelops.artifact.manifest import Manifest
from modelops.artifact.metadata import (
    ClassLabel,
    FeatureSpec,
    FeatureType,
    Metadata,
    Task,
    framework_versions,
    json_labels,
)
from modelops.artifact.profiling import build_profile
from modelops.artifact.serialization import dump_model
from modelops.conditions import now_rfc3339


def build_artifact(
    model: Any,
    reference: Any,
    feature_names: Sequence[str],
    target_values: npt.ArrayLike,
    out_dir: str | Path,
    *,
    format: ModelFormat = "skops",
    feature_types: Mapping[str, FeatureType] | None = None,
    lineage: Mapping[str, Any] | None = None,
    n_bins: int = 10,
    target_name: str = "target",
    created_at: datetime | None = None,
) -> str:
    """Write the artifact of a fitted ``model`` into ``out_dir`` and return its sha256.

    ``reference`` (a pandas DataFrame holding at least ``feature_names``, or a 2-D array
    with those columns in order) and ``target_values`` are the reference/holdout data: they
    give the offline metrics and the profile's reference bins. ``feature_types`` defaults
    to numeric for numeric columns and categorical for the rest. ``out_dir`` must not exist
    or be empty; it appears complete or not at all.
    """
    if format not in MODEL_FORMATS:
        raise ArtifactError("UnsupportedFormat", f"model format {format!r} is not one of skops, joblib")
    names = list(feature_names)
    frame = _reference_frame(reference, names)
    y = np.asarray(target_values).ravel()
    if len(y) != len(frame):
        raise ValueError(f"{len(y)} target values for {len(frame)} reference rows")
    if len(frame) == 0:
        raise ValueError("the reference data has no rows")
    task = _task(model)
    _check_model_features(model, names)
    features = tuple(
        FeatureSpec(name=n, type=(feature_types or {}).get(n) or infer_feature_type(frame[n])) for n in names
    )
    x = model_input(model, frame)
    predictions = np.asarray(model.predict(x)).ravel()
    classes: list[ClassLabel] = json_labels(model.classes_) if task == "classification" else []
    metrics = _offline_metrics(model, x, y)
    profile = build_profile(
        [frame[n].to_numpy() for n in names],
        features,
        predictions,
        task=task,
        classes=classes,
        n_bins=n_bins,
    )
    model_bytes = dump_model(model, format)
    if format == "skops":
        _check_skops_round_trip(model_bytes, model, x, predictions)
    metadata = Metadata(
        format=format,
        model_file=MODEL_FILES[format],
        task=task,
        features=features,
        target=target_name,
        classes=tuple(classes) if task == "classification" else None,
        offline_metrics=metrics,
        lineage=_json_object(lineage) if lineage is not None else None,
        framework_versions=framework_versions(),
        created_at=now_rfc3339(created_at or _source_date()),
    )
    files = {
        MODEL_FILES[format]: model_bytes,
        METADATA_FILE: metadata.to_bytes(),
        PROFILE_FILE: profile.to_bytes(),
    }
    return write_artifact(Path(out_dir), files)


# What metadata.json records as offlineMetrics; computed by the shared evaluation module,
# so they are the very figures the retraining gate and validation compare.
OFFLINE_METRICS = {"classification": ("accuracy", "f1", "roc_auc"), "regression": ("r2", "mae", "rmse")}


def _offline_metrics(model: Any, x: Any, y: npt.NDArray[Any]) -> dict[str, float]:
    """Figures of ``model`` on the reference data; one the data leaves undefined (roc_auc
    with one class present, or of a model without predict_proba) is left out."""
    from modelops.evaluation import MetricRequest, evaluate, predict

    predictions = predict(model, x, y)
    requests = [MetricRequest(name) for name in OFFLINE_METRICS[predictions.task]]
    return {r.name: r.value for r in evaluate(predictions, requests, skip_undefined=True)}


def write_artifact(out_dir: Path, files: Mapping[str, bytes]) -> str:
    """Write ``files`` plus their manifest into ``out_dir`` (built aside, then renamed into
    place) and return the artifact digest."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} exists and is not an empty directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for rel, data in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(data)
        manifest = Manifest.for_directory(staging, files.keys())
        (staging / MANIFEST_FILE).write_bytes(manifest.to_bytes())
        staging.chmod(0o755)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest.digest


def _check_skops_round_trip(data: bytes, model: Any, x: Any, predictions: npt.NDArray[Any]) -> None:
    """The skops file must load under the serving pods' allow-list (better refused now, with
    the reason) and predict what the model predicts."""
    import skops.io

    where = f"{type(model).__name__} as skops"
    trusted = review_skops_types(data, where)
    reloaded = skops.io.loads(data, trusted=trusted)
    if not np.array_equal(np.asarray(reloaded.predict(x)).ravel(), predictions):
        raise ArtifactError("InvalidArtifact", f"{where}: the reloaded model predicts differently")


def _reference_frame(reference: Any, names: list[str]) -> Any:
    import pandas as pd

    if not names:
        raise ValueError("an artifact needs at least one feature")
    if len(set(names)) != len(names):
        raise ValueError("a feature name is given twice")
    if isinstance(reference, pd.DataFrame):
        missing = [n for n in names if n not in reference.columns]
        if missing:
            raise ValueError(f"the reference data has no column(s) {', '.join(missing)}")
        return reference[names].reset_index(drop=True)
    arr = np.asarray(reference)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"reference array of shape {arr.shape} does not hold {len(names)} feature columns")
    return pd.DataFrame(arr, columns=names)


def _task(model: Any) -> Task:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    raise ValueError(f"{type(model).__name__} is neither a classifier nor a regressor")


def _check_model_features(model: Any, names: list[str]) -> None:
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is not None and list(fitted_names) != names:
        raise ValueError(f"the model was fitted on features {list(fitted_names)}, not {names}")
    n_in = getattr(model, "n_features_in_", None)
    if n_in is not None and int(n_in) != len(names):
        raise ValueError(f"the model takes {n_in} features, {len(names)} were named")


def model_input(model: Any, frame: Any) -> Any:
    """What the model was fitted on: a frame when it knows feature names, else an array
    (either mismatch makes scikit-learn warn)."""
    if getattr(model, "feature_names_in_", None) is not None:
        return frame
    return frame.to_numpy()


def infer_feature_type(column: Any) -> FeatureType:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return "categorical"
    return "numeric"


def _json_object(value: Mapping[str, Any]) -> dict[str, Any]:
    try:
        loaded = orjson.loads(orjson.dumps(dict(value)))
    except TypeError as exc:
        raise ValueError(f"lineage is not JSON-serialisable: {exc}") from None
    return dict(loaded)


def _source_date() -> datetime | None:
    """Honour SOURCE_DATE_EPOCH (reproducible builds) for createdAt."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    return datetime.fromtimestamp(int(epoch), UTC)

"""`modelops train`, the built-in trainer: dataset -> split -> fit -> champion/challenger
gate -> artifact with lineage -> result.

Everything that decides the artifact's bytes is an input (the dataset's bytes, the
estimator and params, the seed, the holdout fraction, the lineage options, createdAt),
so the same inputs give a byte-identical artifact, hence the same sha256: a Job that is
restarted publishes the same artifact again, and the operator's ModelVersion stays valid.
createdAt is ``--created-at``, else the drift evaluation's time, else SOURCE_DATE_EPOCH;
only without any of them does the clock (and so the digest) vary.

It needs no Kubernetes API: inputs are options, the output is the artifact at
``<output-uri>/<name>/`` and the result JSON (see modelops.training.result).
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.artifact.build import build_artifact, infer_feature_type, model_input
from modelops.artifact.loading import LoadedArtifact
from modelops.artifact.metadata import ArtifactLineage, FeatureType, Task, training_code
from modelops.datasets import DEFAULT_DEADLINE_S, DEFAULT_MAX_BYTES, Dataset, read_dataset
from modelops.evaluation import EvaluationError, Predictions, default_metrics, evaluate, metric_spec, predict, score
from modelops.training import gate as gating
from modelops.training.champion import load_champion
from modelops.training.errors import TrainingError
from modelops.training.estimators import DEFAULT_ESTIMATOR, make_estimator
from modelops.training.output import NAME_PATTERN, publish
from modelops.training.result import TrainResult

Progress = Callable[[str], None]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TrainOptions:
    dataset_uri: str
    target: str
    name: str  # the artifact's directory under output_uri (the ModelVersion's name)
    output_uri: str
    estimator: str = DEFAULT_ESTIMATOR
    params: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()  # default: every column but the target
    categorical: tuple[str, ...] = ()  # profiled as categorical (default: non-numeric columns)
    champion_uri: str | None = None
    champion_sha256: str | None = None
    champion_trusted: bool = False
    allow_version_skew: bool = False
    gate_metric: str | None = None  # default: roc_auc for classifiers, rmse for regressors
    min_improvement: float = 0.0
    parent: str | None = None
    job: str | None = None
    drift_policy: str | None = None
    drift_evaluation: str | None = None
    created_at: datetime | None = None
    seed: int = 0
    holdout_fraction: float = 0.2
    bins: int = 10
    max_dataset_bytes: int = DEFAULT_MAX_BYTES
    dataset_deadline_s: float = DEFAULT_DEADLINE_S


def train(options: TrainOptions, progress: Progress | None = None) -> TrainResult:
    """Run the whole pipeline; TrainingError (or the dataset's, evaluation's or artifact's
    error) when it cannot, each with a CamelCase reason."""
    say = progress or (lambda _line: None)
    _check_options(options)
    estimator = make_estimator(options.estimator, options.params, options.seed)
    task = _task(estimator, options.estimator)
    gate_metric = _gate_metric(options.gate_metric, task, estimator, options.estimator)
    with tempfile.TemporaryDirectory(prefix="modelops-train-") as tmp:
        workdir = Path(tmp)
        champion = None
        if options.champion_uri and options.champion_sha256:
            say(f"loading champion {options.champion_uri} ({options.champion_sha256[:12]}…)")
            champion = load_champion(options.champion_uri, options.champion_sha256, workdir,
                                     trusted=options.champion_trusted, allow_version_skew=options.allow_version_skew)
        say(f"reading dataset {options.dataset_uri}")
        dataset = read_dataset(options.dataset_uri, max_bytes=options.max_dataset_bytes,
                               deadline_s=options.dataset_deadline_s)
        say(f"dataset: {len(dataset.frame)} rows, {dataset.size_bytes} bytes, sha256 {dataset.sha256}")
        features = _features(dataset, options)
        train_x, hold_x, train_y, hold_y = _split(dataset, features, options, task)
        say(f"split (seed {options.seed}): {len(train_y)} training rows, {len(hold_y)} holdout rows"
            f"{', stratified' if task == 'classification' else ''}")
        say(f"fitting {options.estimator} with {dict(options.params)}")
        model = _fit(estimator, train_x, train_y, say)
        challenger = predict(model, model_input(model, hold_x), hold_y, name="the challenger")
        challenger_metrics = _metrics(challenger)
        challenger_value = score(challenger, gate_metric)  # the gate's figure must exist
        champion_metrics, champion_value, problem = _champion_figures(champion, hold_x, hold_y, gate_metric)
        verdict = gating.decide(gate_metric, metric_spec(gate_metric).higher_is_better, challenger_value,
                                champion_value, options.min_improvement, champion_problem=problem)
        say(f"gate: {'passed' if verdict.passed else 'failed'} ({verdict.reason}): {verdict.message}")
        lineage = _lineage(options, dataset, len(train_y), len(hold_y))
        run = _start_run(options, say)
        if run is not None:
            lineage["experimentRun"] = run.lineage()
        out_dir = workdir / "artifact" / options.name
        sha = build_artifact(
            model, hold_x, list(features), hold_y, out_dir,
            feature_types=_feature_types(hold_x, features, options.categorical),
            lineage=lineage, n_bins=options.bins, target_name=options.target,
            created_at=_created_at(options, say),
        )
        say(f"artifact {sha} built; publishing")
        uri = publish(out_dir, options.output_uri, options.name)
        say(f"artifact published to {uri}")
        if run is not None:
            _record_run(run, options, dataset.sha256, challenger_metrics, champion=champion_metrics, sha=sha,
                        uri=uri)
            say(f"recorded in MLflow run {run.run_id} at {run.tracking_uri}")
    return TrainResult(
        result="Succeeded" if verdict.passed else "GateFailed",
        reason=verdict.reason,
        message=verdict.message,
        model_version=options.name,
        artifact_uri=uri,
        artifact_sha256=sha,
        dataset_uri=dataset.uri,
        dataset_sha256=dataset.sha256,
        dataset_rows=len(dataset.frame),
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        gate=verdict,
    )


def _check_options(o: TrainOptions) -> None:
    if not re.fullmatch(NAME_PATTERN, o.name) or len(o.name) > 253:
        raise TrainingError("InvalidOptions", f"name {o.name!r} is not a DNS-1123 subdomain (lowercase a-z, 0-9, -, .)")
    if bool(o.champion_uri) != bool(o.champion_sha256):
        raise TrainingError("InvalidOptions", "--champion-uri and --champion-sha256 go together")
    if o.champion_sha256 and not _SHA256.fullmatch(o.champion_sha256):
        raise TrainingError("InvalidOptions", f"--champion-sha256 {o.champion_sha256!r} is not 64 hex digits")
    if not 0.0 < o.holdout_fraction < 1.0:
        raise TrainingError("InvalidOptions", f"holdout fraction {o.holdout_fraction} is not between 0 and 1")
    if not math.isfinite(o.min_improvement):
        raise TrainingError("InvalidOptions", f"min improvement {o.min_improvement} is not a finite number")
    if o.bins < 1:
        raise TrainingError("InvalidOptions", f"bins must be at least 1, got {o.bins}")


def _task(estimator: Any, path: str) -> Task:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    raise TrainingError("InvalidEstimator", f"{path} is neither a classifier nor a regressor")


def _gate_metric(name: str | None, task: Task, estimator: Any, path: str) -> str:
    """The gate's metric, checked before any data is read: it must suit the task, and a
    metric on probabilities needs an estimator that gives them."""
    metric = name or ("roc_auc" if task == "classification" else "rmse")
    try:
        spec = metric_spec(metric)
    except EvaluationError as exc:
        raise TrainingError(exc.reason, f"--gate-metric: {exc.message}") from None
    if spec.task != task:
        raise TrainingError("WrongTask", f"gate metric {spec.name} is a {spec.task} metric; {path} does {task}")
    if spec.input == "probabilities" and not hasattr(estimator, "predict_proba"):
        raise TrainingError(
            "NoProbabilities",
            f"gate metric {spec.name} needs class probabilities and {path} with these params has no "
            "predict_proba; choose a label metric (accuracy, f1, ...) or another estimator",
        )
    return spec.name


def _features(dataset: Dataset, o: TrainOptions) -> tuple[str, ...]:
    columns = [str(c) for c in dataset.frame.columns]
    if o.target not in columns:
        raise TrainingError("InvalidDataset", f"{o.dataset_uri} has no target column {o.target!r} (columns: "
                            f"{', '.join(columns)})")
    features = o.features or tuple(c for c in columns if c != o.target)
    missing = [f for f in features if f not in columns]
    if missing:
        raise TrainingError("InvalidDataset", f"{o.dataset_uri} has no feature column(s) {', '.join(missing)}")
    if o.target in features:
        raise TrainingError("InvalidOptions", f"the target {o.target!r} is listed as a feature")
    if not features:
        raise TrainingError("InvalidDataset", f"{o.dataset_uri} has no column besides the target")
    unknown = sorted(set(o.categorical) - set(features))
    if unknown:
        raise TrainingError("InvalidOptions", f"--categorical names non-features: {', '.join(unknown)}")
    return features


def _split(dataset: Dataset, features: tuple[str, ...], o: TrainOptions, task: Task) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    frame = dataset.frame
    y = frame[o.target]
    missing = int(y.isna().sum())
    if missing:
        raise TrainingError("InvalidDataset", f"target column {o.target!r} has {missing} missing values")
    stratify = y if task == "classification" else None
    try:
        train_x, hold_x, train_y, hold_y = train_test_split(
            frame[list(features)], y.to_numpy(), test_size=o.holdout_fraction, random_state=o.seed,
            stratify=stratify,
        )
    except ValueError as exc:
        counts = y.value_counts().to_dict() if task == "classification" else {}
        detail = f" (rows per class: {counts})" if counts else ""
        raise TrainingError("InvalidDataset", f"cannot split {len(frame)} rows: {exc}{detail}") from None
    return train_x.reset_index(drop=True), hold_x.reset_index(drop=True), train_y, hold_y


def _fit(estimator: Any, x: Any, y: Any, say: Progress) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # A frame, so the fitted model knows its feature names (the artifact records them).
            model = estimator.fit(x, y)
        except (ValueError, TypeError) as exc:
            raise TrainingError("FitFailed", f"{type(estimator).__name__}.fit failed: {exc}") from None
    for w in caught:  # e.g. ConvergenceWarning: worth reading in the Job's log, not fatal
        say(f"warning while fitting: {w.category.__name__}: {w.message}")
    return model


def _metrics(predictions: Predictions) -> dict[str, float]:
    return {r.key: r.value for r in evaluate(predictions, default_metrics(predictions), skip_undefined=True)}


def _champion_figures(
    champion: LoadedArtifact | None, hold_x: Any, hold_y: Any, metric: str
) -> tuple[dict[str, float] | None, float | None, str | None]:
    """The champion's metrics on the same holdout, its gate figure, or why it has none."""
    if champion is None:
        return None, None, None
    names = list(champion.metadata.feature_names)
    missing = [n for n in names if n not in hold_x.columns]
    if missing:
        return {}, None, f"the holdout lacks the champion's feature(s) {', '.join(missing)}"
    try:
        preds = predict(champion.model, model_input(champion.model, hold_x[names]), hold_y, name="the champion")
        metrics = _metrics(preds)
        return metrics, score(preds, metric), None
    except EvaluationError as exc:
        return {}, None, str(exc)
    except (ValueError, TypeError) as exc:  # the champion's model refused the holdout rows
        return {}, None, f"the champion cannot predict the holdout: {exc}"


def _feature_types(frame: Any, features: tuple[str, ...], categorical: tuple[str, ...]) -> dict[str, FeatureType]:
    return {f: "categorical" if f in categorical else infer_feature_type(frame[f]) for f in features}


def _lineage(o: TrainOptions, dataset: Dataset, train_rows: int, holdout_rows: int) -> dict[str, Any]:
    return ArtifactLineage(
        parent=o.parent,
        dataset_uri=dataset.uri,
        dataset_sha256=dataset.sha256,
        estimator=o.estimator,
        params=dict(o.params),
        seed=o.seed,
        holdout_fraction=o.holdout_fraction,
        train_rows=train_rows,
        holdout_rows=holdout_rows,
        job=o.job,
        drift_policy=o.drift_policy,
        drift_evaluation=o.drift_evaluation,
        training_code=training_code(),
    ).to_json()


def _start_run(o: TrainOptions, say: Progress) -> Any:
    """With MLFLOW_TRACKING_URI set, an MLflow run of its own (modelops.experiments); else None."""
    from modelops import experiments

    if not experiments.wanted():
        return None
    try:
        run = experiments.start(o.name)
    except experiments.ExperimentLinkError as exc:
        raise TrainingError(exc.reason, exc.message) from None
    say(f"MLflow run {run.run_id} started at {run.tracking_uri}")
    return run


def _record_run(
    run: Any, o: TrainOptions, dataset_sha256: str, challenger: Mapping[str, float], *,
    champion: Mapping[str, float] | None, sha: str, uri: str,
) -> None:
    from modelops import experiments

    params = {"estimator": o.estimator, "seed": o.seed, "holdout_fraction": o.holdout_fraction,
              "dataset_sha256": dataset_sha256, **{f"params.{k}": v for k, v in o.params.items()}}
    metrics = {**dict(challenger), **{f"champion.{k}": v for k, v in (champion or {}).items()}}
    try:
        experiments.record(run, params=params, metrics=metrics, digest=sha, artifact_uri=uri)
    except experiments.ExperimentLinkError as exc:
        raise TrainingError(exc.reason, exc.message) from None


def _created_at(o: TrainOptions, say: Progress) -> datetime | None:
    if o.created_at is not None:
        return o.created_at
    if o.drift_evaluation:
        parsed = parse_time(o.drift_evaluation)
        if parsed is not None:
            return parsed
    say("createdAt from SOURCE_DATE_EPOCH or the clock: pass --created-at for a reproducible artifact digest")
    return None


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time (``2026-11-27T10:05:00Z``) in UTC, or None."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


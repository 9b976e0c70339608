"""ModelVersion (`mv`): an immutable, verified model artifact."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelops.api.common import (
    Condition,
    DNSLabel,
    Fraction,
    Model,
    ObjectName,
    Sha256,
    StatusModel,
    Uri,
)
from modelops.artifact.errors import REASONS as ARTIFACT_REASONS
from modelops.artifact.format import ModelFormat

# Reasons of the ArtifactVerified / Validated / Ready conditions: every ArtifactError reason
# (the operator copies them into status as they are) and those of success and validation
# (NameConflict: the validation Job's name is taken by an object this version does not own).
REASONS = (
    "Verified", *ARTIFACT_REASONS, "ValidationPassed", "ValidationFailed", "ValidationError", "NameConflict",
)


class ArtifactRef(Model):
    """Where the artifact directory lives and the digest it must have."""

    uri: Uri = Field(description="Artifact directory: file://, http(s)://, s3:// (with the s3 extra).")
    sha256: Sha256 = Field(description="sha256 of the artifact's manifest.json (see README).")
    format: ModelFormat = Field(default="skops", description="Serialisation of the model file.")
    trusted: bool = Field(
        default=False, description="joblib (pickle) artifacts load only when true: pickle runs code."
    )


class Lineage(Model):
    """Where a version came from; set by retraining, optional for hand-made versions."""

    parent: ObjectName | None = None
    dataset_uri: Uri | None = None
    dataset_sha256: Sha256 | None = None
    job: str | None = Field(default=None, max_length=253)
    drift_policy: ObjectName | None = None
    drift_evaluation: str | None = Field(default=None, json_schema_extra={"format": "date-time"})


class _Limits(Model):
    """A figure's limits: ``min`` and/or ``max`` (at least one)."""

    min: float | None = Field(default=None, description="The figure must be at least this.")
    max: float | None = Field(default=None, description="The figure must be at most this.")

    @model_validator(mode="after")
    def _some_limit(self) -> _Limits:
        if self.min is None and self.max is None:
            raise ValueError(f"{type(self).__name__} needs min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class MetricRequirement(_Limits):
    name: str = Field(
        min_length=1, max_length=63,
        description="accuracy, balanced_accuracy, precision, recall, f1, roc_auc, log_loss (classifiers); "
        "r2, mae, rmse (regressors).",
    )
    class_: str | None = Field(
        default=None, alias="class", max_length=253,
        description="Score this class only (precision, recall, f1, roc_auc one-vs-rest).",
    )


class ChampionComparison(Model):
    metric: str = Field(min_length=1, max_length=63)
    max_drop: float = Field(
        ge=0.0, description="Largest allowed loss against the stable version (direction-aware: a rise for "
        "log_loss, mae, rmse)."
    )


class GroupMetricRequirement(_Limits):
    """A limit on every group's value of a metric, so on the worst group's."""

    name: str = Field(min_length=1, max_length=63)
    class_: str | None = Field(default=None, alias="class", max_length=253)


class Fairness(Model):
    sensitive_feature: str = Field(
        min_length=1, max_length=253, description="A column of the holdout (a model input or not)."
    )
    max_demographic_parity_difference: Fraction | None = None
    max_equalized_odds_difference: Fraction | None = None
    min_group_metric: GroupMetricRequirement | None = None
    positive_class: str | None = Field(
        default=None, max_length=253,
        description="The class counted as selected/positive for the parity figures (default: a binary "
        "classifier's second class; required for multiclass).",
    )
    min_group_rows: int = Field(
        default=30, ge=1, le=1_000_000,
        description="A group with fewer holdout rows is too small to judge: ValidationError, never a pass.",
    )


class Validation(Model):
    """Offline validation a version must pass before it may serve (when declared)."""

    holdout_uri: Uri
    metrics: list[MetricRequirement] = Field(default_factory=list, max_length=32)
    champion_comparison: ChampionComparison | None = None
    fairness: Fairness | None = None


class ModelVersionSpec(Model):
    model: DNSLabel = Field(description="Logical model name shared by all versions of one model.")
    artifact: ArtifactRef
    allow_version_skew: bool = Field(
        default=False, description="Serve even if scikit-learn major.minor differs from training."
    )
    lineage: Lineage | None = None
    validation: Validation | None = None


class ExperimentRun(StatusModel):
    """The experiment-tracking run that produced the model (MLflow)."""

    run_id: str
    tracking_uri: str | None = None
    experiment_id: str | None = None


class ArtifactLineageSummary(StatusModel):
    """What metadata.json's ``lineage`` says made the model, copied at verification so the
    cluster alone can tell it (``modelops history``); ``spec.lineage`` says where the version
    came from in the cluster. Parameter values are JSON text (any JSON a param may be)."""

    estimator: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    parent: str | None = None
    dataset_uri: str | None = None
    dataset_sha256: str | None = None
    job: str | None = None
    drift_policy: str | None = None
    drift_evaluation: str | None = None
    training_code: dict[str, str] = Field(default_factory=dict)
    experiment_run: ExperimentRun | None = None


class ArtifactSummary(StatusModel):
    sha256: str
    size_bytes: int = Field(ge=0)
    files: int = Field(ge=0)
    features: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    task: str = ""
    framework_versions: dict[str, str] = Field(default_factory=dict)
    offline_metrics: dict[str, float] = Field(default_factory=dict)
    lineage: ArtifactLineageSummary | None = None


class ValidationResult(StatusModel):
    metric: str
    group: str | None = None
    value: float | None = None
    limit: float | None = None
    bound: Literal["min", "max"] | None = Field(default=None, description="Whether limit is a min or a max.")
    verdict: Literal["Pass", "Fail"]


class ValidationStatus(StatusModel):
    results: list[ValidationResult] = Field(default_factory=list)
    job: str | None = None
    completed_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})


class ModelVersionStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    artifact: ArtifactSummary | None = None
    validation: ValidationStatus | None = None

"""DriftPolicy (`dp`): when a deployed model has drifted, and how it is retrained."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from modelops.api.common import (
    Condition,
    Duration,
    Fraction,
    Model,
    ObjectName,
    Percent,
    StatusModel,
    Uri,
)

DriftMethod = Literal["auto", "psi", "jensenshannon", "wasserstein", "ks", "chisquare"]
FeatureMethod = Literal["psi", "jensenshannon", "wasserstein", "ks", "chisquare"]


class TargetRef(Model):
    name: ObjectName = Field(description="A ModelDeployment in the same namespace.")


class FeatureOverride(Model):
    name: str = Field(min_length=1, max_length=253)
    method: FeatureMethod | None = None
    threshold: float | None = Field(default=None, ge=0.0)


class ConceptDrift(Model):
    metric: Literal["accuracy"] = "accuracy"
    minimum: Fraction


class Trainer(Model):
    dataset_uri: Uri
    target: str = Field(min_length=1, max_length=253)
    estimator: str = Field(
        default="sklearn.ensemble.HistGradientBoostingClassifier",
        pattern=r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description="Import path of a scikit-learn estimator.",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    output_uri: Uri


class Gate(Model):
    metric: str = Field(default="roc_auc", min_length=1, max_length=63)
    min_improvement: float = 0.0


class Retrain(Model):
    enabled: bool = True
    cooldown: Duration = "6h"
    trainer: Trainer | None = None
    job_template: dict[str, Any] | None = Field(
        default=None, description="A batch/v1 Job template used instead of the built-in trainer."
    )
    gate: Gate = Field(default_factory=Gate)


class DriftPolicySpec(Model):
    target_ref: TargetRef
    interval: Duration = "5m"
    window: Duration = "1h"
    min_samples: int = Field(default=500, ge=1)
    method: DriftMethod = "auto"
    threshold: float | None = Field(default=None, ge=0.0)
    features: list[FeatureOverride] = Field(default_factory=list, max_length=4096)
    drifted_feature_share: Percent = 30
    consecutive: int = Field(default=2, ge=1, le=100)
    concept_drift: ConceptDrift | None = None
    retrain: Retrain | None = None
    suspend: bool = False


class FeatureScore(StatusModel):
    name: str
    method: str
    score: float
    threshold: float
    drifted: bool


# Bounded status size: the drifted features (at most MAX_DRIFTED_LISTED of them) and the
# TOP_LISTED features nearest to drifting are listed; the counts cover every feature.
MAX_DRIFTED_LISTED = 200
TOP_LISTED = 20


class Evaluation(StatusModel):
    time: str = Field(json_schema_extra={"format": "date-time"})
    samples: int = 0
    verdict: Literal["Clean", "Drifted", "Insufficient"]
    features: list[FeatureScore] = Field(
        default_factory=list, max_length=MAX_DRIFTED_LISTED + TOP_LISTED,
        description="The drifted features and the ones nearest to drifting, worst first.",
    )
    drifted_features: int = 0
    total_features: int = 0
    required_features: int = Field(default=0, description="Drifted features that make the dataset drift.")
    data_verdict: Literal["Clean", "Drifted", "Insufficient"] | None = None
    concept_verdict: Literal["Clean", "Drifted", "Insufficient"] | None = None
    accuracy: float | None = None
    labelled_rows: int | None = None
    replicas: int = Field(default=0, description="Serving pods whose counts were merged.")
    unreachable: list[str] = Field(default_factory=list, max_length=20,
                                   description="Pods that could not be scraped (left out).")


class Streak(StatusModel):
    drifted: int = 0
    clean: int = 0


class GateResult(StatusModel):
    metric: str
    champion: float | None = None
    challenger: float | None = None


class RetrainStatus(StatusModel):
    job: str | None = None
    started_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    trigger: Literal["Drift", "Manual"] | None = None
    drift_evaluation: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    completed_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    result: Literal["Succeeded", "GateFailed", "Failed"] | None = None
    reason: str | None = None
    message: str | None = Field(default=None, max_length=4096)
    model_version: str | None = None
    gate: GateResult | None = None


class DriftPolicyStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    last_evaluation: Evaluation | None = None
    streak: Streak = Field(default_factory=Streak)
    retrains: int = Field(default=0, description="Retraining Jobs started so far; names the next one.")
    last_retrain: RetrainStatus | None = None

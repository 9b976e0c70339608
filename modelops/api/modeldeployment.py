"""ModelDeployment (`mdep`): serving pods for a model, and how new versions roll out."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from modelops.api.common import (
    Condition,
    DNSLabel,
    Duration,
    Fraction,
    Model,
    ObjectName,
    Percent,
    Quantity,
    Sha256,
    StatusModel,
    Uri,
)

Promotion = Literal["Manual", "Auto"]
Router = Literal["Replicas", "GatewayAPI"]
StrategyType = Literal["Recreate", "Canary", "ABTest", "Shadow"]
Phase = Literal["Pending", "Progressing", "Paused", "Stable", "RolledBack", "Failed"]
Verdict = Literal["Pass", "Fail", "Inconclusive"]
# One metric's verdict in status.analysis: a decision's, or NotMeasured for a metric the
# rollout's router gives no way to measure (Shadow's agreement under a gateway's mirror, whose
# copies' answers nobody sees); a NotMeasured metric takes no part in the decision, and says so.
ResultVerdict = Literal["Pass", "Fail", "Inconclusive", "NotMeasured"]

REASONS = (
    "Available",
    "Progressing",
    "VersionNotFound",
    "VersionNotReady",
    "WaitingForPods",
    "InvalidSpec",
    "Paused",
    "RolledBack",
    "ProgressDeadlineExceeded",
    "NameConflict",
    "VersionMissing",
    "VersionReplaced",
    "ChildWriteFailed",
    "AnalysisFailed",
    "InsufficientData",
    "Aborted",
    "RollingOut",
)


class ResourceRequirements(Model):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class ServingSettings(Model):
    max_batch_size: int = Field(default=32, ge=1, le=1024, description="1 turns micro-batching off.")
    max_batch_latency_ms: float = Field(default=2.0, ge=0.0, le=1000.0)
    max_concurrency: int = Field(default=256, ge=1, le=100000)


class ParentRef(Model):
    name: ObjectName
    namespace: ObjectName | None = None
    section_name: str | None = Field(default=None, max_length=253)


class Gateway(Model):
    parent_refs: list[ParentRef] = Field(min_length=1, max_length=32)
    hostnames: list[str] = Field(default_factory=list, max_length=16)


class MetricsSource(Model):
    source: Literal["Pods", "Prometheus"] = "Pods"


class Prometheus(Model):
    url: Uri


class CanaryStep(Model):
    weight: int = Field(ge=1, le=100, description="The candidate's share of replicas, percent (1-100).")
    pause: Duration | None = None


MAX_CANARY_STEPS = 32
# CEL has no index loop: one comparison per adjacent pair, each guarded by the list's size
# (constant cost, within the emulator's CEL subset and the API server's cost budget).
INCREASING_WEIGHTS = "!has(self.steps) || (" + " && ".join(
    f"(size(self.steps) <= {i} || self.steps[{i}].weight > self.steps[{i - 1}].weight)"
    for i in range(1, MAX_CANARY_STEPS)
) + ")"
_CEL = "x-kubernetes-validations"


class Canary(Model):
    model_config = ConfigDict(
        json_schema_extra={_CEL: [{"rule": INCREASING_WEIGHTS,
                                   "message": "spec.strategy.canary.steps: weights must increase from step to step"}]}
    )

    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(weight=10, pause="5m"), CanaryStep(weight=50, pause="10m")],
        min_length=1,
        max_length=MAX_CANARY_STEPS,
    )


class ABTest(Model):
    weight: Percent = 50
    min_samples: int = Field(default=2000, ge=1)
    min_duration: Duration = "1h"
    metric: Literal["accuracy", "errorRate"] = Field(
        default="accuracy", description="What the serving pods count per arm: feedback accuracy, or 5xx rate."
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)


class Shadow(Model):
    mirror_percent: int = Field(
        default=100, ge=1, le=100,
        description="Percent (1-100) of live infer requests mirrored to the candidate; users only see stable's "
        "answers.",
    )
    min_samples: int = Field(
        default=1000, ge=1, description="Compared rows (and mirrored requests) before agreement can pass."
    )
    then: Literal["Canary", "Promote"] = Field(
        default="Canary",
        description="Once the shadow analysis passes: Canary continues with spec.strategy.canary.steps (required), "
        "Promote promotes the candidate.",
    )


class Analysis(Model):
    interval: Duration = "1m"
    min_samples: int = Field(default=200, ge=1, description="Fewer samples: Inconclusive, never a pass.")
    failure_limit: int = Field(default=1, ge=0)
    max_error_rate: float = Field(default=1.0, ge=0.0, le=100.0, description="Percent of 5xx answers.")
    max_latency_ratio: float = Field(default=1.5, ge=1.0, description="Candidate p99 / stable p99.")
    max_accuracy_drop: Fraction = 0.02
    max_prediction_psi: float = Field(default=0.2, ge=0.0, alias="maxPredictionPSI")
    min_agreement: Fraction = Field(
        default=0.9,
        description="Shadow: the share of compared rows on which the candidate must predict what stable predicted.",
    )


# Shadow continues as a canary (then: Canary, the default) only with steps the user wrote: a
# default canary nobody asked for would be a surprise after a shadow run.
SHADOW_THEN_CANARY = (
    "!has(self.type) || self.type != 'Shadow' || "
    "(has(self.shadow) && has(self.shadow.then) && self.shadow.then == 'Promote') || "
    "(has(self.canary) && has(self.canary.steps))"
)


class Strategy(Model):
    model_config = ConfigDict(
        json_schema_extra={_CEL: [{"rule": SHADOW_THEN_CANARY,
                                   "message": "spec.strategy.canary.steps: required when spec.strategy.type is "
                                              "Shadow with shadow.then Canary"}]}
    )

    type: StrategyType = "Recreate"
    canary: Canary | None = None
    ab_test: ABTest | None = None
    shadow: Shadow | None = None
    analysis: Analysis = Field(default_factory=Analysis)
    progress_deadline: Duration = "10m"
    scale_down_delay: Duration = "2m"


class ModelDeploymentSpec(Model):
    model_config = ConfigDict(
        json_schema_extra={_CEL: [{"rule": "!has(self.router) || self.router != 'GatewayAPI' || has(self.gateway)",
                                   "message": "spec.gateway: required when spec.router is GatewayAPI"}]}
    )

    model: DNSLabel
    version: ObjectName | None = Field(
        default=None,
        description="The desired ModelVersion; with promotion Auto, the newest Ready version of model.",
    )
    promotion: Promotion = "Manual"
    replicas: int = Field(default=1, ge=0, le=1000, description="Replicas per active version.")
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    router: Router = "Replicas"
    gateway: Gateway | None = None
    metrics: MetricsSource = Field(default_factory=MetricsSource)
    prometheus: Prometheus | None = None
    paused: bool = False
    strategy: Strategy = Field(default_factory=Strategy)


class AnalysisResult(StatusModel):
    metric: str
    value: float | None = None
    threshold: float | None = None
    samples: int = 0
    verdict: ResultVerdict
    time: str = Field(json_schema_extra={"format": "date-time"})


class ABSamples(StatusModel):
    stable: int = 0
    candidate: int = 0


class ABTestStatus(StatusModel):
    winner: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    samples: ABSamples = Field(default_factory=ABSamples)
    successes: ABSamples = Field(
        default_factory=ABSamples,
        description="Per arm, the successes among samples so far (correct labels, or 5xx answers for errorRate): "
        "the test's running counts, so a restarted operator resumes them.",
    )


class HistoryEntry(StatusModel):
    version: str
    result: Literal["Promoted", "RolledBack"]
    at: str = Field(json_schema_extra={"format": "date-time"})
    reason: str = ""


class Retiring(StatusModel):
    """A version replaced by a canary promotion: its children stay (no longer selected by
    Service ``D``) until ``deleteAfter`` (``spec.strategy.scaleDownDelay``), then go."""

    version: str
    delete_after: str = Field(json_schema_extra={"format": "date-time"})


class Selected(StatusModel):
    """Which version the operator targets and why (``promotion: Auto`` picks it; Manual names it)."""

    version: str
    reason: str = ""


class PinnedArtifact(StatusModel):
    """What one version's pods serve, copied from its ModelVersion when that was Ready.

    The pods are built from this, never from the ModelVersion's current spec: a version
    deleted and re-created under the same name (another artifact, not yet verified) leaves
    them untouched until the new one is Ready."""

    version: str
    uid: str = Field(description="uid of the ModelVersion that was verified.")
    uri: str
    sha256: Sha256
    format: str
    trusted: bool = False
    allow_version_skew: bool = False


class ModelDeploymentStatus(StatusModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    stable: str | None = None
    candidate: str | None = None
    weight: int | None = Field(default=None, ge=0, le=100)
    step: int | None = Field(default=None, ge=0)
    step_started_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    replicas: int | None = Field(default=None, ge=0)
    available_replicas: int | None = Field(default=None, ge=0)
    analysis: list[AnalysisResult] = Field(default_factory=list, max_length=16)
    step_verdict: Verdict | None = Field(
        default=None, description="The latest analysis decision of the current step (a step advances on Pass)."
    )
    failed_analyses: int | None = Field(
        default=None, ge=0, description="Failed analyses of this rollout (failureLimit rolls back)."
    )
    last_analysis_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    retiring: list[Retiring] = Field(default_factory=list, max_length=4)
    selected: Selected | None = None
    ab_test: ABTestStatus | None = None
    endpoint: str | None = None
    pinned: list[PinnedArtifact] = Field(
        default_factory=list, max_length=2, description="The artifacts the stable and candidate pods serve."
    )
    history: list[HistoryEntry] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)

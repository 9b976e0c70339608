"""The custom resource kinds: names, models and printer columns, in one table."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from modelops import GROUP, VERSION
from modelops.api.driftpolicy import DriftPolicySpec, DriftPolicyStatus
from modelops.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelops.api.modelversion import ModelVersionSpec, ModelVersionStatus

READY_COLUMN = '.status.conditions[?(@.type=="Ready")].status'


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class ResourceKind:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[PrinterColumn, ...]
    immutable_spec: bool = False
    categories: tuple[str, ...] = ("modelops",)

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")
READY = PrinterColumn("Ready", READY_COLUMN, description="Ready condition")

MODEL_VERSION = ResourceKind(
    kind="ModelVersion",
    plural="modelversions",
    singular="modelversion",
    short_names=("mv",),
    spec=ModelVersionSpec,
    status=ModelVersionStatus,
    columns=(
        PrinterColumn("Model", ".spec.model"),
        PrinterColumn("Format", ".spec.artifact.format"),
        READY,
        AGE,
    ),
    immutable_spec=True,
)

MODEL_DEPLOYMENT = ResourceKind(
    kind="ModelDeployment",
    plural="modeldeployments",
    singular="modeldeployment",
    short_names=("mdep",),
    spec=ModelDeploymentSpec,
    status=ModelDeploymentStatus,
    columns=(
        PrinterColumn("Stable", ".status.stable"),
        PrinterColumn("Candidate", ".status.candidate"),
        PrinterColumn("Weight", ".status.weight", "integer"),
        PrinterColumn("Phase", ".status.phase"),
        READY,
        AGE,
    ),
)

DRIFT_POLICY = ResourceKind(
    kind="DriftPolicy",
    plural="driftpolicies",
    singular="driftpolicy",
    short_names=("dp",),
    spec=DriftPolicySpec,
    status=DriftPolicyStatus,
    columns=(
        PrinterColumn("Target", ".spec.targetRef.name"),
        PrinterColumn("Drift", '.status.conditions[?(@.type=="DriftDetected")].status'),
        PrinterColumn("Last-Evaluated", ".status.lastEvaluation.time", "date"),
        AGE,
    ),
)

KINDS: tuple[ResourceKind, ...] = (MODEL_VERSION, MODEL_DEPLOYMENT, DRIFT_POLICY)

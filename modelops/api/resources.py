"""The custom resource kinds: names, models and printer columns, in one table."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from modelops import GROUP, VERSION
from modelops.api.common import DNS_1035_PATTERN, DNS_LABEL_PATTERN
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
class NameRule:
    """An ``x-kubernetes-validations`` rule on the object's name, and what the API server says."""

    rule: str
    message: str


# CEL's matches() is an unanchored RE2 search: the anchors are part of the pattern.
DNS_1035_NAME = NameRule(
    rule=f"size(self.metadata.name) <= 63 && self.metadata.name.matches('{DNS_1035_PATTERN}')",
    message="metadata.name must be a DNS-1035 label (at most 63 characters: lower-case letters, digits and '-', "
    "starting with a letter and ending with a letter or digit): it names the ModelDeployment's Service",
)
DNS_1123_LABEL_NAME = NameRule(
    rule=f"size(self.metadata.name) <= 63 && self.metadata.name.matches('{DNS_LABEL_PATTERN}')",
    message="metadata.name must be a DNS-1123 label (at most 63 characters: lower-case letters, digits and '-', "
    "no dots): it becomes the modelops.dev/version label and part of serving object names",
)


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
    name_rule: NameRule | None = None
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
    name_rule=DNS_1123_LABEL_NAME,
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
    name_rule=DNS_1035_NAME,
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

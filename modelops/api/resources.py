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
class NameRule:
    """An ``x-kubernetes-validations`` rule on the object's name, and what the API server says."""

    rule: str
    message: str


# The API server has already checked that a name is a DNS-1123 subdomain (lower-case letters,
# digits, '-' and '.', alphanumeric at both ends, at most 253 characters); these rules add
# what a label needs. They avoid matches(): metadata.name has no maxLength the CEL cost
# estimator could use, so a regex over it is estimated at ~3 MiB and the CRD refused
# ("estimated rule cost exceeds budget"); size(), startsWith() of one character and
# contains() of one character stay far below the per-rule limit.
_NO_DOTS = "!self.metadata.name.contains('.')"
_SHORT = "size(self.metadata.name) <= 63"
_LETTER_FIRST = "![" + ", ".join(f"'{d}'" for d in "0123456789") + "].exists(d, self.metadata.name.startsWith(d))"
DNS_1035_NAME = NameRule(
    rule=f"{_SHORT} && {_NO_DOTS} && {_LETTER_FIRST}",
    message="metadata.name must be a DNS-1035 label (at most 63 characters: lower-case letters, digits and '-', "
    "starting with a letter and ending with a letter or digit): it names the ModelDeployment's Service",
)
DNS_1123_LABEL_NAME = NameRule(
    rule=f"{_SHORT} && {_NO_DOTS}",
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

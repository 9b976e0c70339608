"""Types shared by the three custom resources: durations, percentages, names, conditions.

The pydantic models in ``modelops.api`` are the single source of truth for the CRDs:
``modelops crds`` turns them into structural openAPIV3 schemas, and the operator parses
specs with the same models, so the schema the API server enforces and the checks the
operator makes cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.alias_generators import to_camel

from modelops.conditions import REASON_PATTERN

# Go duration syntax, the subset users write in manifests: "30s", "5m", "1h30m", "250ms".
# The pattern also bounds the size (at most four parts of at most seven digits), so no
# duration the API server admits can overflow a timedelta; MAX_DURATION is the real limit.
DURATION_PATTERN = r"^([0-9]{1,7}(\.[0-9]{1,9})?(ms|s|m|h)){1,4}$"
DURATION_MAX_LENGTH = 64
MAX_DURATION = timedelta(days=366)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Service names are DNS-1035 labels: a letter first. A ModelDeployment's name is the name of
# its main Service (and the first part of every child's), so it must be one too.
DNS_1035_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# Object names (DNS-1123 subdomain); a version name becomes part of child names, so it is
# kept to a label-like form without dots.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SHA256_PATTERN = r"^[a-f0-9]{64}$"
URI_PATTERN = r"^[a-zA-Z][a-zA-Z0-9+.-]*://.+$"
# Kubernetes' own resource.Quantity syntax (as controller-gen writes it into CRDs).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _bounded_duration(value: str) -> str:
    if parse_duration(value) > MAX_DURATION:
        raise ValueError(f"duration {value} is longer than the limit of {format_duration(MAX_DURATION)}")
    return value


Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        description="A duration such as 30s, 5m, 1h30m (Go syntax subset), at most 8784h (366 days).",
    ),
    AfterValidator(_bounded_duration),
]
Percent = Annotated[int, Field(ge=0, le=100, description="A percentage, 0-100.")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, description="A fraction, 0-1.")]
DNSLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=63)]
ObjectName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="Lower-case hex sha256.")]
Uri = Annotated[str, Field(pattern=URI_PATTERN, max_length=2048)]
def _one_quantity_error(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    # int | str reports one error per branch ("not an integer"; "does not match ..."): say it once.
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (such as 250m, 256Mi, 1.5Gi or 2)") from None


Quantity = Annotated[
    int | Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=64)],
    WrapValidator(_one_quantity_error),
    Field(description="A Kubernetes quantity such as 250m, 256Mi or 2."),
]

ConditionStatus = Literal["True", "False", "Unknown"]


class Model(BaseModel):
    """Base of every resource model: camelCase on the wire, strict about unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class StatusModel(BaseModel):
    """Base of status models: the operator writes these; tolerate fields of newer operators."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class Condition(StatusModel):
    """A metav1.Condition."""

    type: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=316)
    status: ConditionStatus
    reason: str = Field(pattern=REASON_PATTERN, max_length=1024)
    message: str = Field(default="", max_length=32768)
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})


def parse_duration(value: str) -> timedelta:
    """Parse a Go-style duration ("1h30m", "250ms"); raises ValueError naming the value.

    Never raises anything else: a value too large for a timedelta (possible only outside
    the pattern's bounds, e.g. from a command line) is a ValueError too.
    """
    if not re.fullmatch(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", value):
        raise ValueError(f"invalid duration {value!r}: expected e.g. 30s, 5m, 1h30m")
    seconds = sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _DURATION_PART.findall(value))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"invalid duration {value!r}: too long") from None


def format_duration(delta: timedelta) -> str:
    """The shortest Go-style spelling of a whole number of seconds (for messages)."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
    return "".join(parts) or "0s"

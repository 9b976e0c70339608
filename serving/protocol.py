"""Open Inference Protocol v2 (KServe v2 / MLServer) REST types, plus our extensions.

These pydantic models are the documented boundary: they generate the OpenAPI schema and
validate the small, rare requests (feedback). Inference decodes the same shapes by hand
in ``codec.py`` (pydantic costs ~3x the JSON parse for per-feature tensors); the
two agree on what they accept, which the schemathesis fuzz test checks against this schema.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

# OIP v2 tensor datatypes, and the numpy kinds each may carry.
NUMERIC_DATATYPES: frozenset[str] = frozenset(
    {
        "BOOL",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "FP16",
        "FP32",
        "FP64",
    }
)
DATATYPES: frozenset[str] = NUMERIC_DATATYPES | {"BYTES"}
PROBA_OUTPUT = "predict_proba"
PREDICT_OUTPUT = "predict"
OUTPUT_NAMES: tuple[str, ...] = (PREDICT_OUTPUT, PROBA_OUTPUT)


def datatype_of(values: npt.NDArray[Any]) -> str:
    """The OIP datatype of an array of model outputs."""
    return _KIND_DATATYPES.get(values.dtype.kind, "BYTES")


_KIND_DATATYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class RequestInput(_Model):
    """One input tensor: a feature's column (shape ``[N]`` or ``[N, 1]``) or all features
    at once (shape ``[N, F]``, FP32/FP64). ``data`` is flat row-major or nested."""

    name: str = Field(examples=["mean radius"])
    shape: list[int] = Field(examples=[[1]])
    datatype: str = Field(examples=["FP64"], description="BOOL, INT*, UINT*, FP16/32/64 or BYTES")
    parameters: dict[str, Any] | None = None
    data: list[Any] = Field(examples=[[14.1]])


class RequestOutput(_Model):
    name: str = Field(examples=["predict_proba"], description="predict or predict_proba")
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Model):
    id: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description='{"predict_proba": true} adds the class probabilities'
    )
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] | None = None


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ErrorResponse(BaseModel):
    error: str


class LiveResponse(BaseModel):
    live: bool


class ReadyResponse(BaseModel):
    name: str | None = Field(default=None, description="the model's name (model readiness only)")
    ready: bool


class FeedbackRequest(BaseModel):
    """True labels of an earlier inference request, by its ``x-request-id``.

    ``labels`` lists one label per row of that request (in row order); ``label`` is the
    shorthand for a one-row request.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        examples=["MTAuMC4wLjU6ODA4MA.9f2c….1a.5e0b…"],
        description="the inference's x-feedback-id (any replica forwards it to the one that predicted), "
        "or its x-request-id (scored only by the replica that answered)",
    )
    labels: list[str | int | float | bool] | None = None
    label: str | int | float | bool | None = None


class FeedbackResponse(BaseModel):
    id: str
    model_version: str
    rows: int
    correct: int
    rolling_accuracy: float | None = Field(description="accuracy over this version's recent labelled rows")
    rolling_samples: int
    already_scored: bool = Field(
        default=False, description="a retry of feedback scored before: its first figures, nothing counted again"
    )


class DriftBucket(BaseModel):
    start: int
    rows: int
    features: list[list[int]]
    output: list[int]


class DriftResponse(BaseModel):
    """Bin counts per feature and of the output (``modelops.drift.counts.DriftCounts``)."""

    model_config = ConfigDict(populate_by_name=True)

    model: str
    version: str
    layoutDigest: str  # noqa: N815 - wire names of the drift counts format
    bucketSeconds: int  # noqa: N815
    start: int
    end: int
    features: list[str]
    bins: list[int]
    outputBins: int  # noqa: N815
    buckets: list[DriftBucket]

"""`metadata.json`: what the model takes and gives, how well it did, and what built it."""

from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import FORMAT_VERSION, METADATA_FILE, MODEL_FORMATS, ModelFormat, parse_json

Task = Literal["classification", "regression"]
FeatureType = Literal["numeric", "categorical"]
# A class label as JSON gives it: scikit-learn classes are ints, strings or bools.
ClassLabel = bool | int | float | str


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class FeatureSpec(_Camel):
    name: str = Field(min_length=1)
    type: FeatureType = "numeric"


class ArtifactLineage(_Camel):
    """What made a model: recorded as metadata.json ``lineage`` and copied into the
    ModelVersion's ``spec.lineage`` by the operator. Every field is optional (a hand-made
    artifact may know none of them) and unknown keys are kept, so a lineage written by
    ``modelops package --lineage-json`` or a newer trainer still reads."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="allow")

    parent: str | None = Field(default=None, description="The ModelVersion this one was retrained from.")
    dataset_uri: str | None = None
    dataset_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    estimator: str | None = Field(default=None, description="Import path of the estimator class.")
    params: dict[str, Any] | None = Field(default=None, description="Estimator parameters as given.")
    seed: int | None = Field(default=None, description="Seed of the train/holdout split and the estimator.")
    holdout_fraction: float | None = None
    train_rows: int | None = None
    holdout_rows: int | None = None
    job: str | None = Field(default=None, description="The training Job.")
    drift_policy: str | None = None
    drift_evaluation: str | None = Field(default=None, description="The drift evaluation that triggered it.")
    training_code: dict[str, str] | None = Field(
        default=None, description="modelops version and, when run from a git checkout, its commit."
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Metadata(_Camel):
    format_version: Literal[1] = 1
    format: ModelFormat
    model_file: str
    task: Task
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    target: str
    classes: tuple[ClassLabel, ...] | None = None
    offline_metrics: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, Any] | None = None
    framework_versions: dict[str, str] = Field(default_factory=dict)
    created_at: str

    @field_validator("features")
    @classmethod
    def _unique_features(cls, v: tuple[FeatureSpec, ...]) -> tuple[FeatureSpec, ...]:
        names = [f.name for f in v]
        if len(set(names)) != len(names):
            raise ValueError("a feature is listed twice")
        return v

    @model_validator(mode="after")
    def _classes_match_task(self) -> Metadata:
        if self.task == "classification" and not self.classes:
            raise ValueError("a classifier's metadata must list its classes")
        if self.task == "regression" and self.classes:
            raise ValueError("a regressor's metadata must not list classes")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def lineage_record(self) -> ArtifactLineage | None:
        """The lineage as an ArtifactLineage, or None when there is none or it does not fit the model
        (a free-form lineage from ``--lineage-json`` stays readable as the dict)."""
        if self.lineage is None:
            return None
        try:
            return ArtifactLineage.model_validate(self.lineage)
        except ValidationError:
            return None

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            self.model_dump(mode="json", by_alias=True, exclude_none=True),
            option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_bytes(cls, data: bytes, source: str = METADATA_FILE) -> Metadata:
        raw = parse_json(data, source)
        if not isinstance(raw, dict):
            raise ArtifactError("InvalidArtifact", f"{source} must be a JSON object")
        # Checked before the schema, so an artifact of a newer format or an unknown model
        # format says so instead of failing as merely malformed.
        if raw.get("formatVersion") != FORMAT_VERSION:
            raise ArtifactError(
                "UnsupportedFormat",
                f"{source} formatVersion {raw.get('formatVersion')!r} is not supported "
                f"(expected {FORMAT_VERSION})",
            )
        if raw.get("format") not in MODEL_FORMATS:
            raise ArtifactError(
                "UnsupportedFormat",
                f"{source} format {raw.get('format')!r} is not one of {', '.join(MODEL_FORMATS)}",
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
            )
            raise ArtifactError("InvalidArtifact", f"{source} is malformed: {problems}") from None


def json_labels(values: Any) -> list[ClassLabel]:
    """Class labels (a numpy array or sequence) as plain JSON values."""
    out: list[ClassLabel] = []
    for v in values:
        item = v.item() if hasattr(v, "item") else v
        if not isinstance(item, (bool, int, float, str)):
            raise ValueError(f"class label {v!r} is not a bool, number or string")
        out.append(item)
    return out


def framework_versions() -> dict[str, str]:
    """Versions of what builds and loads models, as recorded in every artifact."""
    import numpy
    import sklearn
    import skops

    from modelops import __version__

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "skops": skops.__version__,
        "modelops": __version__,
    }


@functools.cache
def training_code() -> dict[str, str]:
    """The version of the code that trains: modelops' version and, when it runs from a git
    checkout, the commit (read from ``.git`` without running git; once per process)."""
    from modelops import __version__

    out = {"modelops": __version__}
    commit = _git_commit(Path(__file__).resolve().parents[2])
    if commit:
        out["gitCommit"] = commit
    return out


def _git_commit(root: Path) -> str | None:
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    except OSError:
        return None
    return None

"""The reference profile (`profile.json`) of an artifact: bins of every input feature and
of the model's output, with the counts seen on the reference data (counted by the
serving pods' own binner, see modelops.drift.profile)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy.typing as npt

from modelops.artifact.metadata import ClassLabel, FeatureSpec, Task
from modelops.drift.categories import category_key
from modelops.drift.profile import Profile, ReferenceColumn, output_layout, reference_profile

OUTPUT_NAME = "predict"


def class_category(label: ClassLabel) -> str:
    """The output-profile category of a class label: ``category_key``, the one naming
    serving uses (1.0 and 1 are one class)."""
    key = category_key(label)
    if key is None:
        raise ValueError(f"class label {label!r} is missing (NaN)")
    return key


def build_profile(
    columns: Sequence[npt.ArrayLike],
    features: Sequence[FeatureSpec],
    predictions: npt.ArrayLike,
    *,
    task: Task,
    classes: Sequence[ClassLabel] = (),
    n_bins: int = 10,
) -> Profile:
    """One binned profile per feature (``columns[i]`` holds feature ``i``'s reference
    values) and one named ``predict`` for the model's outputs on the same rows."""
    reference = [
        ReferenceColumn(spec.name, spec.type, column) for spec, column in zip(features, columns, strict=True)
    ]
    output = output_layout(OUTPUT_NAME, predictions, list(classes) if task == "classification" else None, n_bins)
    return reference_profile(reference, output, predictions, n_bins=n_bins)

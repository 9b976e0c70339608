"""The reference profile (`profile.json`) of an artifact: bins of every input feature and
of the model's output, with the counts seen on the reference data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.artifact.metadata import ClassLabel, FeatureSpec, Task
from modelops.drift.binning import Binner
from modelops.drift.profile import BinnedProfile, Profile, categorical_profile, numeric_profile

OUTPUT_NAME = "predict"


def class_category(label: ClassLabel) -> str:
    """The output-profile category of a class label. Integral floats name the same bin as
    the int (as modelops.drift.binning counts them), so 1.0 and 1 are one class."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


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
    binned: list[BinnedProfile] = []
    for spec, column in zip(features, columns, strict=True):
        if spec.type == "numeric":
            binned.append(numeric_profile(spec.name, np.asarray(column, dtype=np.float64), n_bins))
        else:
            binned.append(categorical_profile(spec.name, np.asarray(column, dtype=object)))
    output = _output_profile(predictions, task, classes, n_bins)
    return Profile(features=tuple(binned), output=output)


def _output_profile(
    predictions: npt.ArrayLike, task: Task, classes: Sequence[ClassLabel], n_bins: int
) -> BinnedProfile:
    if task == "regression":
        return numeric_profile(OUTPUT_NAME, np.asarray(predictions, dtype=np.float64), n_bins)
    categories = tuple(class_category(c) for c in classes)
    empty = BinnedProfile(
        name=OUTPUT_NAME, kind="categorical", categories=categories, reference=(0,) * (len(categories) + 1)
    )
    # Counted by the very code the serving pods use, so reference and live bins agree.
    counts = _count_outputs(empty, predictions)
    return BinnedProfile(
        name=OUTPUT_NAME, kind="categorical", categories=categories, reference=tuple(int(c) for c in counts)
    )


def _count_outputs(output: BinnedProfile, predictions: npt.ArrayLike) -> Any:
    return Binner(Profile(features=(), output=output)).output_counts(np.asarray(predictions, dtype=object))

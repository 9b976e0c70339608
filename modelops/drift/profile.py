"""Building the reference profile (`profile.json`) from reference data.

Bin layouts come from the reference data (quantile edges for numeric features, the most
frequent categories for categorical ones, the classes for a classifier's output); the
reference *counts* are then counted by ``modelops.drift.binning.Binner``, the very code
the serving pods count live rows with. So a reference row and the same row served land in
the same bin by construction: no second implementation of binning or of category naming
can disagree with serving (``tests/drift/test_reference_profile.py`` checks it).

The format types are re-exported here, so ``from modelops.drift.profile import Profile``
keeps working; the dependency is one-way: this module -> binning -> profile_format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.drift.binning import Binner
from modelops.drift.categories import category_key
from modelops.drift.profile_format import (
    PROFILE_FORMAT_VERSION,
    BinnedProfile,
    FeatureKind,
    Profile,
    ProfileError,
)

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "DEFAULT_NUMERIC_BINS",
    "PROFILE_FORMAT_VERSION",
    "BinnedProfile",
    "FeatureKind",
    "Profile",
    "ProfileError",
    "ReferenceColumn",
    "categorical_profile",
    "numeric_profile",
    "output_layout",
    "reference_profile",
]

DEFAULT_NUMERIC_BINS = 10
DEFAULT_MAX_CATEGORIES = 50
# Stands in for the output when only features are counted (a Binner needs a Profile).
_NO_OUTPUT = BinnedProfile(name="", kind="numeric", reference=(0, 0))


@dataclass(frozen=True)
class ReferenceColumn:
    """One feature's reference values and how it is binned."""

    name: str
    kind: FeatureKind
    values: npt.ArrayLike


def reference_profile(
    columns: Sequence[ReferenceColumn],
    output: BinnedProfile,
    outputs: npt.ArrayLike,
    *,
    n_bins: int = DEFAULT_NUMERIC_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> Profile:
    """The profile of reference ``columns`` (all of one length) and of the model's
    ``outputs`` on the same rows, binned by the ``output`` layout (see ``output_layout``)."""
    layouts = tuple(_layout(c, n_bins, max_categories) for c in columns)
    lengths = {len(np.asarray(c.values).ravel()) for c in columns}
    if len(lengths) > 1:
        raise ProfileError(f"reference columns differ in length: {sorted(lengths)}")
    binner = Binner(Profile(features=layouts, output=output))
    counts = binner.split(binner.feature_counts(_rows(columns, layouts))) if columns else []
    features = tuple(_with_reference(f, c) for f, c in zip(layouts, counts, strict=True))
    output_counts = binner.output_counts(np.asarray(outputs, dtype=object if output.kind == "categorical" else None))
    return Profile(features=features, output=_with_reference(output, output_counts))


def output_layout(
    name: str, outputs: npt.ArrayLike, classes: Sequence[Any] | None, n_bins: int = DEFAULT_NUMERIC_BINS
) -> BinnedProfile:
    """The bins of a model's outputs: one per class (in the model's order) for a
    classifier, quantile bins of the reference predictions for a regressor."""
    if classes is None:
        return _numeric_layout(name, outputs, n_bins)
    keys = [category_key(c) for c in classes]
    if any(k is None for k in keys):
        raise ProfileError(f"output {name!r}: a class label is missing (None or NaN)")
    categories = tuple(str(k) for k in keys)
    if len(set(categories)) != len(categories):
        raise ProfileError(f"output {name!r}: classes {list(classes)} name the same category twice")
    return BinnedProfile(name=name, kind="categorical", categories=categories, reference=(0,) * (len(categories) + 1))


def numeric_profile(name: str, values: npt.ArrayLike, n_bins: int = DEFAULT_NUMERIC_BINS) -> BinnedProfile:
    """Quantile bins of one numeric reference column, with its reference counts."""
    return _single(ReferenceColumn(name, "numeric", values), n_bins, DEFAULT_MAX_CATEGORIES)


def categorical_profile(
    name: str, values: Sequence[Any] | npt.ArrayLike, max_categories: int = DEFAULT_MAX_CATEGORIES
) -> BinnedProfile:
    """Category bins of one reference column: the ``max_categories`` most frequent
    categories (ties broken by name), the rest and missing values in the special bin."""
    return _single(ReferenceColumn(name, "categorical", values), DEFAULT_NUMERIC_BINS, max_categories)


def _single(column: ReferenceColumn, n_bins: int, max_categories: int) -> BinnedProfile:
    layout = _layout(column, n_bins, max_categories)
    binner = Binner(Profile(features=(layout,), output=_NO_OUTPUT))
    return _with_reference(layout, binner.feature_counts(_rows((column,), (layout,))))


def _layout(column: ReferenceColumn, n_bins: int, max_categories: int) -> BinnedProfile:
    if column.kind == "numeric":
        return _numeric_layout(column.name, column.values, n_bins)
    if column.kind == "categorical":
        return _categorical_layout(column.name, column.values, max_categories)
    raise ProfileError(f"feature {column.name!r}: unknown kind {column.kind!r}")


def _numeric_layout(name: str, values: npt.ArrayLike, n_bins: int) -> BinnedProfile:
    """Edges are the inner quantiles of the finite values, deduplicated, so a column with
    few distinct values gets fewer bins rather than empty ones."""
    if n_bins < 1:
        raise ProfileError("n_bins must be at least 1")
    arr = _floats(name, values)
    finite = arr[np.isfinite(arr)]
    edges: tuple[float, ...] = ()
    if finite.size:
        qs = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
        # the top edge equal to the maximum would leave the last bin empty in the reference
        edges = tuple(float(e) for e in qs[qs < finite.max()])
    return BinnedProfile(name=name, kind="numeric", edges=edges, reference=(0,) * (len(edges) + 2))


def _categorical_layout(name: str, values: Sequence[Any] | npt.ArrayLike, max_categories: int) -> BinnedProfile:
    if max_categories < 1:
        raise ProfileError("max_categories must be at least 1")
    seen = Counter(k for k in map(category_key, np.asarray(values, dtype=object).ravel()) if k is not None)
    if not seen:
        raise ProfileError(f"categorical feature {name!r} has no non-missing reference values")
    kept = sorted(seen, key=lambda k: (-seen[k], k))[:max_categories]
    return BinnedProfile(name=name, kind="categorical", categories=tuple(kept), reference=(0,) * (len(kept) + 1))


def _rows(columns: Sequence[ReferenceColumn], layouts: Sequence[BinnedProfile]) -> npt.NDArray[Any]:
    """The reference rows as serving sees a batch: floats when every feature is numeric,
    objects otherwise (numeric values as floats, categorical ones as the data holds them)."""
    arrays = [
        _floats(c.name, c.values) if f.kind == "numeric" else np.asarray(c.values, dtype=object).ravel()
        for c, f in zip(columns, layouts, strict=True)
    ]
    if all(f.kind == "numeric" for f in layouts):
        return np.column_stack(arrays) if arrays else np.empty((0, 0))
    rows = np.empty((len(arrays[0]), len(arrays)), dtype=object)
    for i, column in enumerate(arrays):
        rows[:, i] = column
    return rows


def _floats(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"numeric feature {name!r} has non-numeric reference values: {exc}") from None


def _with_reference(layout: BinnedProfile, counts: npt.NDArray[np.int64]) -> BinnedProfile:
    return BinnedProfile(
        name=layout.name,
        kind=layout.kind,
        edges=layout.edges,
        categories=layout.categories,
        reference=tuple(int(c) for c in counts),
    )

"""The reference profile is counted by the serving binner: the same rows give the same counts.

The bug this guards against: reference categories were keyed with ``str(v)`` ("1.0")
while serving keyed live values with its own function ("1"), so every live row of an
integral-float categorical feature fell in the unseen bin and read as drift.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from modelops.artifact.metadata import FeatureSpec
from modelops.artifact.profiling import build_profile, class_category
from modelops.drift import binning
from modelops.drift.binning import Binner
from modelops.drift.categories import category_key
from modelops.drift.profile import (
    BinnedProfile,
    Profile,
    ProfileError,
    ReferenceColumn,
    categorical_profile,
    numeric_profile,
    output_layout,
    reference_profile,
)

DRIFT = Path(__file__).resolve().parents[2] / "modelops" / "drift"


def _frame(n: int, seed: int = 7) -> pd.DataFrame:
    """Numeric with NaN, string categories with None, integral-float categories with NaN
    (what pandas reads from a CSV column of 1, 2, 3 with gaps), int categories."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(20, 5, size=n)
    tenure[rng.random(n) < 0.1] = np.nan
    plan = rng.choice(np.array(["basic", "pro", "max", None], dtype=object), size=n, p=[0.5, 0.3, 0.15, 0.05])
    tier = rng.choice([1.0, 2.0, 3.0, np.nan], size=n, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice([10, 20, 30], size=n)
    return pd.DataFrame({"tenure": tenure, "plan": plan, "tier": tier, "region": region})


SPECS = (
    FeatureSpec(name="tenure", type="numeric"),
    FeatureSpec(name="plan", type="categorical"),
    FeatureSpec(name="tier", type="categorical"),
    FeatureSpec(name="region", type="categorical"),
)


def _served_rows(frame: pd.DataFrame) -> npt.NDArray[Any]:
    """The rows as a serving pod's binner gets them from JSON: numbers as Python floats or
    ints, strings as str, missing values as NaN (the codec's ``_categorical``)."""
    rows = np.empty(frame.shape, dtype=object)
    for j, column in enumerate(frame.columns):
        rows[:, j] = [np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else v
                      for v in frame[column].tolist()]
    return rows


@pytest.mark.parametrize("n", [40, binning._BROADCAST_LIMIT // 10 + 1])  # the small- and large-batch paths
def test_reference_counts_equal_the_serving_binners_counts_on_the_same_rows(n: int) -> None:
    frame = _frame(n)
    predictions = np.where(frame["region"].to_numpy() > 15, 1.0, 0.0)  # float labels of int classes
    profile = build_profile(
        [frame[s.name].to_numpy() for s in SPECS], SPECS, predictions, task="classification", classes=[0, 1]
    )
    binner = Binner(profile)
    live = binner.split(binner.feature_counts(_served_rows(frame)))
    for feature, counts in zip(profile.features, live, strict=True):
        assert list(feature.reference) == counts.tolist(), feature.name
    assert list(profile.output.reference) == binner.output_counts(predictions).tolist()
    # and nothing landed in the special bin that has a category of its own
    tier = profile.feature("tier")
    assert tier.categories == ("1", "2", "3")
    assert tier.reference[-1] == int(frame["tier"].isna().sum())
    plan = profile.feature("plan")
    assert plan.reference[-1] == int(frame["plan"].isna().sum())
    tenure = profile.feature("tenure")
    assert tenure.reference[-1] == int(frame["tenure"].isna().sum())


def test_integral_float_categories_match_live_ints_floats_and_numpy_scalars() -> None:
    feature = categorical_profile("tier", [1.0, 1.0, 2.0, np.nan])
    assert feature.categories == ("1", "2")
    assert feature.reference == (2, 1, 1)
    binner = Binner(Profile(features=(feature,), output=feature))
    rows = np.array([[1], [1.0], [np.int64(2)], [np.float32(2.0)], ["1"], [None], [7]], dtype=object)
    assert binner.feature_counts(rows).tolist() == [3, 2, 2]


def test_one_function_names_categories() -> None:
    assert [category_key(v) for v in (1, 1.0, np.int64(1), np.float32(1.0), "1", b"1")] == ["1"] * 6
    assert [category_key(v) for v in (None, np.nan, pd.NA, pd.NaT)] == [None] * 4
    assert category_key(1.5) == "1.5"
    assert category_key(True) == "True"
    assert class_category(1.0) == class_category(1) == "1"


def test_profiles_written_before_the_fix_still_load_and_bin_integral_floats() -> None:
    """An artifact built by the old code lists "1.0": it reads as before (same bytes, same
    layout digest) and live 1.0 / 1 land in that category instead of the unseen bin."""
    raw = {
        "formatVersion": 1,
        "features": [{"name": "tier", "kind": "categorical", "categories": ["1.0", "2.0"], "reference": [5, 3, 1]}],
        "output": {"name": "predict", "kind": "categorical", "categories": ["0", "1"], "reference": [4, 5, 0]},
    }
    profile = Profile.from_json(raw)
    assert profile.to_json() == raw
    binner = Binner(profile)
    rows = np.array([[1.0], [1], ["1.0"], [2.0], [9.0]], dtype=object)
    assert binner.feature_counts(rows).tolist() == [3, 1, 1]


def test_a_category_named_like_the_canonical_key_keeps_its_own_bin() -> None:
    feature = BinnedProfile(name="c", kind="categorical", categories=("1.0", "1"), reference=(1, 1, 0))
    binner = Binner(Profile(features=(feature,), output=feature))
    assert binner.feature_counts(np.array([["1.0"], [1.0]], dtype=object)).tolist() == [1, 1, 0]


def test_regression_outputs_are_binned_by_quantiles_and_counted_like_serving() -> None:
    rng = np.random.default_rng(3)
    predictions = rng.normal(size=500)
    output = output_layout("predict", predictions, None, n_bins=8)
    x = rng.normal(size=500)
    profile = reference_profile([ReferenceColumn("x", "numeric", x)], output, predictions, n_bins=8)
    assert len(profile.output.edges) == 7
    assert list(profile.output.reference) == Binner(profile).output_counts(predictions).tolist()
    assert profile.features[0] == numeric_profile("x", x, n_bins=8)


def test_bad_reference_data_is_named() -> None:
    with pytest.raises(ProfileError, match="'plan' has no non-missing"):
        categorical_profile("plan", [None, np.nan])
    with pytest.raises(ProfileError, match="numeric feature 'x' has non-numeric"):
        numeric_profile("x", ["a", "b"])
    with pytest.raises(ProfileError, match="differ in length"):
        reference_profile(
            [ReferenceColumn("a", "numeric", [1.0, 2.0]), ReferenceColumn("b", "numeric", [1.0])],
            output_layout("predict", [0.0], None),
            [0.0, 1.0],
        )
    with pytest.raises(ProfileError, match="name the same category twice"):
        output_layout("predict", [1], [1, 1.0])


def _drift_imports(name: str) -> set[str]:
    tree = ast.parse((DRIFT / f"{name}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelops.drift."):
            found.add(node.module.removeprefix("modelops.drift."))
    return found


def test_binning_and_the_profile_format_do_not_import_the_profile_builder() -> None:
    """No import cycle: profile (builder) -> binning -> profile_format, never back."""
    assert "profile" not in _drift_imports("binning")
    assert _drift_imports("profile_format") == set()
    assert _drift_imports("categories") == set()
    assert "binning" in _drift_imports("profile")

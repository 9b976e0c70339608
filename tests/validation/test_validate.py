"""A validation run end to end on real artifacts and a holdout file: the verdicts, the
champion comparison in both directions, and every way it cannot judge, named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelops.api.modelversion import Validation
from modelops.validation.outcome import Outcome
from modelops.validation.run import ArtifactSource, Request, validate

from .conftest import SENSITIVE, TARGET, Built


def _spec(holdout: Path | str, **fields: Any) -> Validation:
    uri = holdout.as_uri() if isinstance(holdout, Path) else holdout
    return Validation.model_validate({"holdoutUri": uri, **fields})


def _run(model: Built, spec: Validation, champion: Built | None = None) -> Outcome:
    return validate(Request(
        ArtifactSource(model.uri, model.sha256), spec,
        champion=ArtifactSource(champion.uri, champion.sha256) if champion else None,
    ))


FAIR_LIMITS: dict[str, Any] = {
    "metrics": [
        {"name": "accuracy", "min": 0.75},
        {"name": "roc_auc", "min": 0.8},
        {"name": "recall", "class": "1", "min": 0.7},
        {"name": "log_loss", "max": 0.6},
    ],
    "fairness": {
        "sensitiveFeature": SENSITIVE,
        "maxDemographicParityDifference": 0.1,
        "maxEqualizedOddsDifference": 0.1,
        "minGroupMetric": {"name": "recall", "min": 0.7},
    },
}


def test_a_fair_accurate_model_passes_with_every_figure(fair: Built, holdout_csv: Path,
                                                       holdout_frame: pd.DataFrame) -> None:
    outcome = _run(fair, _spec(holdout_csv, **FAIR_LIMITS))
    assert outcome.reason == "ValidationPassed", outcome.message
    assert [(f.metric, f.group) for f in outcome.figures] == [
        ("accuracy", None), ("roc_auc", None), ("recall[1]", None), ("log_loss", None),
        ("demographic_parity_difference", SENSITIVE), ("equalized_odds_difference", SENSITIVE),
        ("recall", f"{SENSITIVE}=A"), ("recall", f"{SENSITIVE}=B"),
    ]
    assert all(f.verdict == "Pass" for f in outcome.figures)
    assert outcome.facts["groups"]["rows"] == holdout_frame[SENSITIVE].value_counts().to_dict()


def test_a_model_missing_a_metric_fails_naming_it(fair: Built, holdout_csv: Path) -> None:
    outcome = _run(fair, _spec(holdout_csv, metrics=[{"name": "accuracy", "min": 0.99}, {"name": "f1", "min": 0.5}]))
    assert outcome.reason == "ValidationFailed"
    assert outcome.message.startswith("accuracy is 0.")
    assert "below the minimum 0.99" in outcome.message
    assert [f.verdict for f in outcome.figures] == ["Fail", "Pass"]


def test_a_model_biased_against_a_group_fails_fairness(biased: Built, holdout_csv: Path) -> None:
    outcome = _run(biased, _spec(holdout_csv, **FAIR_LIMITS))
    assert outcome.reason == "ValidationFailed"
    by_name = {(f.metric, f.group): f for f in outcome.figures}
    assert by_name["demographic_parity_difference", SENSITIVE].verdict == "Fail"
    assert by_name["equalized_odds_difference", SENSITIVE].verdict == "Fail"
    assert by_name["recall", f"{SENSITIVE}=A"].verdict == "Pass"
    assert by_name["recall", f"{SENSITIVE}=B"].verdict == "Fail"  # the group it refuses
    # The worst is the equalized odds difference, many times its limit.
    assert outcome.message.startswith(f"equalized_odds_difference across '{SENSITIVE}' is ")
    assert "worst of" in outcome.message


def test_a_regressor_is_held_to_r2_mae_rmse_and_per_group_error(regressor: Built, tmp_path: Path,
                                                               holdout_frame: pd.DataFrame) -> None:
    frame = holdout_frame.assign(score=2 * holdout_frame["x1"] - holdout_frame["x2"])
    path = tmp_path / "holdout.parquet"
    frame.to_parquet(path)
    metrics = [{"name": "r2", "min": 0.95}, {"name": "mae", "max": 0.5}, {"name": "rmse", "max": 0.01}]
    spec = _spec(path, metrics=metrics,
                 fairness={"sensitiveFeature": SENSITIVE, "minGroupMetric": {"name": "mae", "max": 0.5}})
    outcome = _run(regressor, spec)
    assert [(f.metric, f.verdict) for f in outcome.figures] == [
        ("r2", "Pass"), ("mae", "Pass"), ("rmse", "Fail"), ("mae", "Pass"), ("mae", "Pass")]
    assert outcome.reason == "ValidationFailed"
    assert outcome.message.startswith("rmse is ")


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])  # higher and lower is better
def test_champion_comparison_in_both_directions(fair: Built, weak: Built, holdout_csv: Path, metric: str) -> None:
    spec = _spec(holdout_csv, championComparison={"metric": metric, "maxDrop": 0.01})
    better = _run(fair, spec, champion=weak)
    assert better.reason == "ValidationPassed", better.message
    (figure,) = better.figures
    assert figure.metric == f"{metric}_drop_vs_champion"
    assert figure.value < 0
    worse = _run(weak, spec, champion=fair)
    assert worse.reason == "ValidationFailed"
    (figure,) = worse.figures
    assert figure.value == pytest.approx(-better.figures[0].value)
    assert figure.value > 0.01
    assert figure.limit == 0.01
    assert figure.bound == "max"
    assert figure.detail["champion"] == pytest.approx(better.figures[0].detail["model"])


def test_champion_comparison_without_a_champion_is_skipped_and_says_so(fair: Built, holdout_csv: Path) -> None:
    outcome = _run(fair, _spec(holdout_csv, championComparison={"metric": "roc_auc", "maxDrop": 0.0}))
    assert outcome.reason == "ValidationPassed"
    assert outcome.figures == ()
    assert "no champion" in outcome.facts["notes"][0]


def test_an_unreadable_holdout_is_a_validation_error(fair: Built, tmp_path: Path) -> None:
    missing = _run(fair, _spec(tmp_path / "nowhere.csv", **FAIR_LIMITS))
    assert (missing.reason, missing.problem, missing.retryable) == ("ValidationError", "HoldoutUnreadable", False)
    assert "nowhere.csv" in missing.message
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    broken = _run(fair, _spec(garbage, **FAIR_LIMITS))
    assert (broken.reason, broken.problem) == ("ValidationError", "HoldoutUnreadable")
    assert "InvalidDataset" in broken.message
    assert "garbage.parquet" in broken.message
    assert broken.figures == ()


def test_a_missing_target_or_sensitive_feature_is_named(fair: Built, tmp_path: Path,
                                                        holdout_frame: pd.DataFrame) -> None:
    no_target = tmp_path / "no_target.csv"
    holdout_frame.drop(columns=[TARGET]).to_csv(no_target, index=False)
    outcome = _run(fair, _spec(no_target, metrics=[{"name": "accuracy", "min": 0.5}]))
    assert (outcome.reason, outcome.problem) == ("ValidationError", "TargetMissing")
    assert repr(TARGET) in outcome.message
    no_group = tmp_path / "no_group.csv"
    holdout_frame.drop(columns=[SENSITIVE]).to_csv(no_group, index=False)
    outcome = _run(fair, _spec(no_group, **FAIR_LIMITS))
    assert (outcome.reason, outcome.problem) == ("ValidationError", "SensitiveFeatureMissing")
    assert repr(SENSITIVE) in outcome.message
    no_input = tmp_path / "no_input.csv"
    holdout_frame.drop(columns=["x2"]).to_csv(no_input, index=False)
    outcome = _run(fair, _spec(no_input, metrics=[{"name": "accuracy", "min": 0.5}]))
    assert (outcome.problem, "['x2']" in outcome.message) == ("FeatureMissing", True)


def test_groups_too_small_to_judge_are_an_error_with_the_counts(fair: Built, tmp_path: Path,
                                                                holdout_frame: pd.DataFrame) -> None:
    frame = holdout_frame.copy()
    frame.loc[frame.index[:7], SENSITIVE] = "C"
    path = tmp_path / "small_group.csv"
    frame.to_csv(path, index=False)
    outcome = _run(fair, _spec(path, **FAIR_LIMITS))
    assert (outcome.reason, outcome.problem) == ("ValidationError", "HoldoutTooSmall")
    assert "minGroupRows=30" in outcome.message
    assert "C=7" in outcome.message
    assert "A=" in outcome.message
    # The threshold is the spec's: with 5 rows per group enough, the same holdout is judged.
    limits = {**FAIR_LIMITS, "fairness": {**FAIR_LIMITS["fairness"], "minGroupRows": 5,
                                          "maxEqualizedOddsDifference": None}}
    assert _run(fair, _spec(path, **limits)).reason in ("ValidationPassed", "ValidationFailed")


@pytest.mark.parametrize(("requirement", "why"), [
    ({"name": "rmse", "max": 0.8}, "WrongTask"),
    ({"name": "recall", "class": "7", "min": 0.8}, "UnknownClass"),
    ({"name": "accuracy", "class": "1", "min": 0.8}, "NotPerClass"),
    ({"name": "auc", "min": 0.8}, "UnknownMetric"),
])
def test_a_spec_the_model_cannot_satisfy_is_invalid_spec(fair: Built, holdout_csv: Path,
                                                         requirement: dict[str, Any], why: str) -> None:
    outcome = _run(fair, _spec(holdout_csv, metrics=[requirement]))
    assert (outcome.reason, outcome.problem) == ("ValidationError", "InvalidSpec")
    assert why in outcome.message

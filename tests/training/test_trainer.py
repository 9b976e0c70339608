"""The built-in trainer: estimator allow-list and params, the gate in both directions, the
result's size bound, a byte-identical artifact from the same inputs, lineage in metadata."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from modelops.artifact.loading import load_artifact
from modelops.cli import main
from modelops.training.errors import TrainingError
from modelops.training.estimators import ALLOWED_ESTIMATORS, make_estimator
from modelops.training.gate import decide
from modelops.training.result import TERMINATION_MESSAGE_LIMIT, TrainResult, decode, encode
from modelops.training.train import TrainOptions, train

WHEN = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)


def _classification_csv(path: Path, n: int = 400, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.7 * x[:, 1] + rng.normal(scale=0.6, size=n) > 0).astype(int)
    pd.DataFrame({"tenure": x[:, 0], "spend": x[:, 1], "noise": x[:, 2], "churned": y}).to_csv(path, index=False)
    return path


def _regression_csv(path: Path, n: int = 400, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(scale=0.3, size=n)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}).to_csv(path, index=False)
    return path


def _train_options(tmp_path: Path, **overrides: object) -> TrainOptions:
    base = TrainOptions(
        dataset_uri=str(_classification_csv(tmp_path / "data.csv")),
        target="churned",
        name="churn-v2",
        output_uri=(tmp_path / "models").as_uri(),
        estimator="sklearn.linear_model.LogisticRegression",
        params={"C": 0.5},
        parent="churn-v1",
        job="churn-drift-retrain-1",
        drift_policy="churn-drift",
        drift_evaluation="2026-11-27T10:05:00Z",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


# --- estimators and params -------------------------------------------------------------


@pytest.mark.parametrize("path", ["os.system", "sklearn.ensemble.IsolationForest", "sklearn.pipeline.Pipeline"])
def test_estimators_off_the_allow_list_are_refused_before_import(path: str) -> None:
    with pytest.raises(TrainingError, match="not on the trainer's allow-list") as info:
        make_estimator(path, {}, seed=0)
    assert info.value.reason == "InvalidEstimator"


def test_a_near_miss_is_named_with_a_suggestion() -> None:
    with pytest.raises(TrainingError, match=r"did you mean sklearn\.linear_model\.LogisticRegression\?"):
        make_estimator("sklearn.linear_model.LogisticRegresion", {}, seed=0)


def test_an_unknown_param_is_refused_by_name() -> None:
    with pytest.raises(TrainingError) as info:
        make_estimator("sklearn.linear_model.LogisticRegression", {"C": 1.0, "max_iters": 5}, seed=0)
    assert info.value.reason == "UnknownParam"
    assert "LogisticRegression has no parameter 'max_iters' (did you mean 'max_iter'?)" in info.value.message


def test_params_are_applied_and_the_seed_fills_random_state() -> None:
    est = make_estimator("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 7}, seed=42)
    assert (est.n_estimators, est.random_state) == (7, 42)
    assert make_estimator("sklearn.tree.DecisionTreeRegressor", {"random_state": 3}, seed=42).random_state == 3
    with pytest.raises(TrainingError) as info:
        make_estimator("sklearn.svm.SVC", {"C": object()}, seed=0)
    assert info.value.reason == "InvalidParams"


def test_every_allowed_estimator_exists_and_is_a_classifier_or_regressor() -> None:
    from sklearn.base import is_classifier, is_regressor

    for path in ALLOWED_ESTIMATORS:
        est = make_estimator(path, {}, seed=0)
        assert is_classifier(est) or is_regressor(est), path


# --- the gate ------------------------------------------------------------------------------


GateCase = tuple[str, bool, float, float | None, float, bool, str]


@pytest.mark.parametrize(
    "case",
    [
        ("roc_auc", True, 0.91, 0.88, 0.0, True, "Improved"),
        ("roc_auc", True, 0.88, 0.91, 0.0, False, "NotImproved"),
        ("roc_auc", True, 0.90, 0.88, 0.05, False, "NotImproved"),
        ("roc_auc", True, 0.8, 0.7, 0.1, True, "Improved"),  # 0.8 - 0.7 is 0.0999…: rounding, not a shortfall
        ("rmse", False, 1.2, 1.5, 0.0, True, "Improved"),
        ("rmse", False, 1.5, 1.2, 0.0, False, "NotImproved"),
        ("log_loss", False, 0.30, 0.32, 0.05, False, "NotImproved"),
        ("mae", False, 0.5, 0.5, 0.0, True, "Improved"),  # not worse is enough with minImprovement 0
        ("roc_auc", True, 0.7, None, 0.0, True, "NoChampion"),
    ],
)
def test_the_gate_is_direction_aware(case: GateCase) -> None:
    metric, higher, challenger, champion, minimum, passed, reason = case
    verdict = decide(metric, higher, challenger, champion, minimum)
    assert (verdict.passed, verdict.reason) == (passed, reason)
    if champion is not None:
        assert verdict.improvement == pytest.approx((challenger - champion) * (1 if higher else -1))


def test_a_champion_without_a_figure_fails_the_gate_closed() -> None:
    verdict = decide("roc_auc", True, 0.9, None, 0.0, champion_problem="NoProbabilities: no predict_proba")
    assert (verdict.passed, verdict.reason) == (False, "ChampionNotComparable")
    assert "no predict_proba" in verdict.message


# --- the result ----------------------------------------------------------------------------


def test_the_result_fits_the_termination_message_and_keeps_the_verdict() -> None:
    gate = decide("roc_auc", True, 0.91, 0.88, 0.0)
    metrics = {f"recall[{i}]": 0.5 for i in range(400)} | {"roc_auc": 0.91}
    result = TrainResult(
        result="Succeeded", reason="Improved", message="m" * 10_000, model_version="churn-v2",
        artifact_uri="s3://models/churn/churn-v2/", artifact_sha256="a" * 64,
        dataset_uri="s3://data/" + "x" * 3000 + ".csv", dataset_sha256="b" * 64, dataset_rows=10,
        challenger_metrics=metrics, champion_metrics=metrics, gate=gate,
    )
    data = encode(result)
    assert len(data) <= TERMINATION_MESSAGE_LIMIT
    out = json.loads(data)
    assert out["truncated"] is True
    assert (out["result"], out["reason"]) == ("Succeeded", "Improved")
    assert out["artifact"] == {"uri": "s3://models/churn/churn-v2/", "sha256": "a" * 64}
    assert out["gate"]["champion"] == 0.88
    assert out["gate"]["passed"] is True
    assert out["metrics"]["challenger"] == {"roc_auc": 0.91}
    assert out["dataset"]["sha256"] == "b" * 64


def test_a_result_that_fits_is_written_whole() -> None:
    result = TrainResult(result="Failed", reason="DatasetNotFound", message="s3://d/x.csv does not exist")
    assert json.loads(encode(result)) == {"result": "Failed", "reason": "DatasetNotFound",
                                          "message": "s3://d/x.csv does not exist"}
    huge = replace(result, message="é\n" * 5000)  # escaping makes characters several bytes
    assert len(encode(huge)) <= TERMINATION_MESSAGE_LIMIT
    assert json.loads(encode(huge))["reason"] == "DatasetNotFound"


# --- the pipeline ---------------------------------------------------------------------------


def test_same_inputs_give_a_byte_identical_artifact(tmp_path: Path) -> None:
    options = _train_options(tmp_path, estimator="sklearn.ensemble.RandomForestClassifier", params={"n_estimators": 5})
    first = train(options)
    second = train(replace(options, output_uri=(tmp_path / "again").as_uri()))
    assert first.artifact_sha256 == second.artifact_sha256
    for name in ("manifest.json", "metadata.json", "profile.json", "model.skops"):
        again = (tmp_path / "again" / "churn-v2" / name).read_bytes()
        assert (tmp_path / "models" / "churn-v2" / name).read_bytes() == again
    other_seed = train(replace(options, seed=1, output_uri=(tmp_path / "seed1").as_uri()))
    assert other_seed.artifact_sha256 != first.artifact_sha256


def test_lineage_and_verdict_are_recorded(tmp_path: Path) -> None:
    result = train(_train_options(tmp_path))
    assert result.result == "Succeeded"
    assert result.reason == "NoChampion"
    artifact = load_artifact(tmp_path / "models" / "churn-v2", result.artifact_sha256)
    lineage = artifact.metadata.lineage_record()
    assert lineage is not None
    assert lineage.parent == "churn-v1"
    assert lineage.dataset_uri == str(tmp_path / "data.csv")
    assert lineage.dataset_sha256 == result.dataset_sha256
    assert lineage.estimator == "sklearn.linear_model.LogisticRegression"
    assert lineage.params == {"C": 0.5}
    assert (lineage.job, lineage.drift_policy, lineage.drift_evaluation) == (
        "churn-drift-retrain-1", "churn-drift", "2026-11-27T10:05:00Z")
    assert (lineage.seed, lineage.train_rows, lineage.holdout_rows) == (0, 320, 80)
    assert lineage.training_code is not None
    assert lineage.training_code["modelops"]
    assert artifact.metadata.created_at == "2026-11-27T10:05:00Z"  # from the drift evaluation
    assert artifact.model.C == 0.5
    assert artifact.metadata.offline_metrics["accuracy"] == pytest.approx(result.challenger_metrics["accuracy"])
    assert result.artifact_uri == (tmp_path / "models").as_uri() + "/churn-v2/"


def test_the_gate_fails_against_a_better_champion_and_passes_against_a_worse_one(tmp_path: Path) -> None:
    champion = train(_train_options(tmp_path, name="churn-v1", estimator="sklearn.linear_model.LogisticRegression"))
    assert champion.artifact_uri is not None
    assert champion.artifact_sha256 is not None
    weak = _train_options(tmp_path, estimator="sklearn.tree.DecisionTreeClassifier", params={"max_depth": 1},
                    champion_uri=champion.artifact_uri, champion_sha256=champion.artifact_sha256,
                    gate_metric="accuracy")
    failed = train(weak)
    assert (failed.result, failed.reason) == ("GateFailed", "NotImproved")
    assert failed.gate is not None
    assert failed.gate.champion == champion.challenger_metrics["accuracy"]  # the same holdout
    assert failed.champion_metrics is not None
    assert failed.champion_metrics["accuracy"] == champion.challenger_metrics["accuracy"]
    # log_loss: lower is better, and a depth-1 tree's is worse than the logistic regression's
    assert train(replace(weak, name="churn-v3", gate_metric="log_loss")).result == "GateFailed"
    # the reverse: the stump is the champion, the logistic regression beats it
    stump = failed
    assert stump.artifact_uri is not None
    assert stump.artifact_sha256 is not None
    better = _train_options(tmp_path, name="churn-v4", champion_uri=stump.artifact_uri,
                      champion_sha256=stump.artifact_sha256, gate_metric="log_loss")
    passed = train(better)
    assert (passed.result, passed.reason) == ("Succeeded", "Improved")
    assert passed.gate is not None
    improvement = passed.gate.improvement
    assert improvement is not None
    assert improvement > 0


def test_regressors_gate_on_rmse_lower_is_better(tmp_path: Path) -> None:
    data = str(_regression_csv(tmp_path / "reg.csv"))
    base = _train_options(tmp_path, dataset_uri=data, target="y", estimator="sklearn.linear_model.LinearRegression",
                    params={}, name="reg-v1")
    champion = train(base)
    assert champion.gate is not None
    assert champion.gate.metric == "rmse"
    worse = train(replace(base, name="reg-v2", estimator="sklearn.tree.DecisionTreeRegressor",
                          params={"max_depth": 1}, champion_uri=champion.artifact_uri,
                          champion_sha256=champion.artifact_sha256))
    assert worse.gate is not None
    assert (worse.result, worse.gate.higher_is_better) == ("GateFailed", False)
    assert worse.gate.improvement is not None
    assert worse.gate.improvement < 0
    assert set(worse.challenger_metrics) == {"r2", "mae", "rmse"}


def test_a_probability_gate_metric_without_predict_proba_is_refused_before_reading_data(tmp_path: Path) -> None:
    options = _train_options(tmp_path, estimator="sklearn.svm.LinearSVC", params={},
                             dataset_uri=str(tmp_path / "no.csv"))
    with pytest.raises(TrainingError) as info:
        train(options)
    assert info.value.reason == "NoProbabilities"
    with pytest.raises(TrainingError) as wrong:
        train(replace(options, estimator="sklearn.linear_model.Ridge", gate_metric="f1"))
    assert wrong.value.reason == "WrongTask"


def test_publishing_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    options = _train_options(tmp_path)
    first = train(options)
    assert train(options).artifact_sha256 == first.artifact_sha256  # a restarted Job: same artifact, fine
    with pytest.raises(TrainingError) as info:
        train(replace(options, params={"C": 2.0}))
    assert info.value.reason == "OutputExists"


def test_the_cli_writes_the_result_and_exits_by_verdict(tmp_path: Path) -> None:
    data = _classification_csv(tmp_path / "data.csv")
    log = tmp_path / "termination-log"
    args = ["train", "--dataset-uri", data.as_uri(), "--target", "churned", "--name", "churn-v2",
            "--output-uri", str(tmp_path / "out"), "--estimator", "sklearn.tree.DecisionTreeClassifier",
            "--params", '{"max_depth": 3}', "--termination-log", str(log), "--created-at", WHEN.isoformat()]
    assert main(args) == 0
    result = orjson.loads(log.read_bytes())
    assert result["result"] == "Succeeded"
    assert result["artifact"]["uri"] == f"{tmp_path / 'out'}/churn-v2/"
    assert load_artifact(tmp_path / "out" / "churn-v2", result["artifact"]["sha256"]).metadata.created_at == (
        "2026-11-27T10:05:00Z")

    assert main([*args[:-4], "--params", '{"max_dept": 3}', "--termination-log", str(log)]) == 1
    refused = orjson.loads(log.read_bytes())
    assert (refused["result"], refused["reason"]) == ("Failed", "UnknownParam")
    assert "'max_dept'" in refused["message"]

    assert main([*args[:-4], "--params", "[1]", "--termination-log", str(log)]) == 2
    assert orjson.loads(log.read_bytes())["reason"] == "InvalidParams"


def test_the_operator_reads_back_what_the_trainer_wrote() -> None:
    result = TrainResult(
        result="GateFailed", reason="NotImproved", message="m", model_version="churn-v2",
        artifact_uri="s3://m/churn-v2/", artifact_sha256="a" * 64, dataset_uri="s3://d/x.csv",
        dataset_sha256="b" * 64, dataset_rows=10, challenger_metrics={"rmse": 1.5}, champion_metrics={"rmse": 1.2},
        gate=decide("rmse", False, 1.5, 1.2, 0.0),
    )
    assert decode(encode(result)) == result
    for bad, why in ((b"not json", "not JSON"), (b"[]", "not a JSON object"), (b'{"result": "Maybe"}', "'Maybe'"),
                     (b'{"result": "Succeeded", "gate": {"metric": "x"}}', "malformed")):
        with pytest.raises(ValueError, match=why):
            decode(bad)


def test_the_operators_invocation_parses_into_the_same_options() -> None:
    from modelops.cli import build_parser
    from modelops.training.cli import options_from
    from modelops.training.invocation import TrainerInvocation, trainer_args

    call = TrainerInvocation(
        dataset_uri="s3://data/churn/latest.parquet", target="churned",
        estimator="sklearn.ensemble.HistGradientBoostingClassifier", output_uri="s3://models/churn/",
        name="churn-drift-retrain-3", params={"max_iter": 200, "learning_rate": 0.1}, gate_metric="roc_auc",
        min_improvement=0.005, champion_uri="s3://models/churn/churn-v1/", champion_sha256="a" * 64,
        parent="churn-v1", job="churn-drift-retrain-3", drift_policy="churn-drift",
        drift_evaluation="2026-11-27T10:05:00Z", created_at="2026-11-27T10:05:00Z", allow_version_skew=True,
    )
    args = trainer_args(call)
    options = options_from(build_parser(only="train").parse_args(args))
    assert options == TrainOptions(
        dataset_uri=call.dataset_uri, target="churned", name="churn-drift-retrain-3", output_uri=call.output_uri,
        estimator=call.estimator, params={"max_iter": 200, "learning_rate": 0.1}, champion_uri=call.champion_uri,
        champion_sha256="a" * 64, allow_version_skew=True, gate_metric="roc_auc", min_improvement=0.005,
        parent="churn-v1", job="churn-drift-retrain-3", drift_policy="churn-drift",
        drift_evaluation="2026-11-27T10:05:00Z", created_at=WHEN,
    )
    assert trainer_args(call) == args  # deterministic: the Job's spec does not change between reconciles

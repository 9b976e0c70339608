"""The DriftPolicy reconcile's pure pieces: replicas found and merged, feedback accuracy, the
bounded lastEvaluation, the trainer pod's result, and the Job and ModelVersion it makes."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from modelops.api.driftpolicy import MAX_DRIFTED_LISTED, TOP_LISTED, DriftPolicySpec, DriftPolicyStatus
from modelops.cli import build_parser
from modelops.drift.evaluation import Evaluation as Scores
from modelops.drift.settings import SCORE_METHODS
from modelops.operator.driftpolicy import decide, jobs, observe
from modelops.serving.sketch import DriftSketch
from modelops.training.cli import options_from

from .conftest import Artifact
from .drift_fakes import load_profile, reference_rows, trainer_result

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OPERATOR = Path(__file__).resolve().parents[2] / "operator"


def _answer(profile: Any, rows: int, seed: int, version: str = "churn-v1") -> bytes:
    sketch = DriftSketch(profile, model="churn", version=version, bucket_seconds=60, window_seconds=3600)
    x = reference_rows(rows, seed=seed)
    sketch.add(x, (x[:, 0] > 0).astype(int))
    return orjson.dumps(sketch.window(3600).to_json())


def test_pure_modules_import_no_client() -> None:
    for module in ("observe.py", "jobs.py", "decide.py"):
        tree = ast.parse((OPERATOR / "driftpolicy" / module).read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {n for n in names if n.startswith(("kopf", "aiohttp", "modelops.operator.kube"))}, module


def test_replicas_are_summed_and_one_of_another_layout_is_left_out_by_name(
    artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = load_profile(artifacts[0].uri), load_profile(artifacts[1].uri)
    merged = observe.merge_replicas(v1, {"p0": _answer(v1, 100, 1), "p1": _answer(v1, 50, 2),
                                         "p2": _answer(v2, 70, 3), "p3": b"not json"})
    assert merged.counts is not None
    assert merged.counts.rows == 150
    assert merged.merged == ("p0", "p1")
    assert [name for name, _ in merged.left_out] == ["p2", "p3"]
    assert "counts refused" in merged.left_out[0][1]


def test_serving_pods_are_the_running_ready_ones_with_an_ip() -> None:
    def pod(name: str, ready: str = "True", phase: str = "Running", ip: str | None = "10.0.0.1",
            deleting: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if deleting:
            meta["deletionTimestamp"] = "2026-11-30T12:00:00Z"
        return {"metadata": meta, "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 9000}]}]},
                "status": {"phase": phase, "podIP": ip, "conditions": [{"type": "Ready", "status": ready}]}}

    found = observe.serving_pods([pod("b"), pod("a"), pod("c", ready="False"), pod("d", phase="Pending"),
                                  pod("e", ip=None), pod("f", deleting=True)])
    assert found == [observe.ServingPod("a", "http://10.0.0.1:9000"), observe.ServingPod("b", "http://10.0.0.1:9000")]


def test_feedback_accuracy_is_weighted_by_labelled_rows_of_the_version() -> None:
    def text(version: str, accuracy: str, rows: int) -> str:
        labels = f'model="churn",version="{version}"'
        return (f"# TYPE modelops_feedback_rows counter\nmodelops_feedback_rows_total{{{labels}}} {rows}\n"
                f"# TYPE modelops_rolling_accuracy gauge\nmodelops_rolling_accuracy{{{labels}}} {accuracy}\n")

    got = observe.feedback_accuracy({"a": text("churn-v1", "0.9", 300), "b": text("churn-v1", "0.5", 100),
                                     "c": text("churn-v1", "NaN", 0), "d": text("churn-v2", "0.1", 1000)},
                                    "churn-v1")
    assert got.labelled == 400
    assert got.value == pytest.approx(0.8)
    assert observe.concept_verdict(got, 0.85, 500) == "Insufficient"
    assert observe.concept_verdict(got, 0.85, 400) == "Drifted"
    assert observe.concept_verdict(got, 0.75, 400) == "Clean"
    assert observe.concept_verdict(got, None, 400) is None


def test_with_2000_features_status_lists_the_drifted_ones_and_the_top_20_and_counts_all() -> None:
    n = 2000
    scores = np.linspace(0.0, 1.0, n)
    drifted = scores > 0.95  # 100 drifted
    ks = SCORE_METHODS.index("ks")
    evaluation = Scores(verdict="Drifted", samples=1000, min_samples=100, names=tuple(f"f{i}" for i in range(n)),
                        methods=np.full(n, ks, dtype=np.int8), scores=scores, thresholds=np.full(n, 0.95),
                        drifted=drifted, drifted_features=int(drifted.sum()), required_features=1)
    summary, status = observe.summarize(evaluation, NOW, accuracy=observe.Accuracy(None, 0), concept=None,
                                        accuracy_minimum=None, replicas=observe.Replicas(None, ("p",), ()))
    listed = status["features"]
    assert len(listed) == int(drifted.sum()) + TOP_LISTED
    assert listed[0]["name"] == "f1999"
    assert all(f["drifted"] for f in listed[:100])
    assert status["driftedFeatures"] == 100
    assert status["totalFeatures"] == n
    assert summary.top[0].name == "f1999"
    assert len(summary.top) == decide.TOP_FEATURES
    DriftPolicyStatus.model_validate({"lastEvaluation": status})  # fits the CRD's bounds
    everything = Scores(verdict="Drifted", samples=1000, min_samples=100, names=evaluation.names,
                        methods=evaluation.methods, scores=scores, thresholds=np.zeros(n),
                        drifted=np.ones(n, dtype=bool), drifted_features=n, required_features=1)
    assert observe.listed_features(everything) == MAX_DRIFTED_LISTED + TOP_LISTED


def _job(conditions: list[dict[str, Any]], completion: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": conditions}
    if completion:
        status["completionTime"] = completion
    return {"metadata": {"name": "j"}, "status": status}


def _pod(message: str | None, finished: str = "2026-11-30T11:59:00Z") -> dict[str, Any]:
    terminated: dict[str, Any] = {"exitCode": 0, "finishedAt": finished}
    if message is not None:
        terminated["message"] = message
    return {"status": {"containerStatuses": [{"state": {"terminated": terminated}}]}}


def test_job_observation_reads_the_result_and_waits_a_little_for_the_pods_status() -> None:
    done = [{"type": "Complete", "status": "True"}]
    assert observe.job_observation(None, [], "j", NOW).state == "Missing"
    assert observe.job_observation(_job([]), [], "j", NOW).state == "Active"
    just = (NOW - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert observe.job_observation(_job(done, just), [], "j", NOW).state == "Active"
    late = observe.job_observation(_job(done, "2026-11-30T11:00:00Z"), [_pod(None)], "j", NOW)
    assert late.state == "Succeeded"
    assert late.result is None
    assert "no termination message" in late.problem
    ok = observe.job_observation(_job(done), [_pod("garbage", "2026-11-30T11:00:00Z"),
                                              _pod(trainer_result("Succeeded", uri="file:///m/", sha256="b" * 64)
                                                   .decode())], "j", NOW)
    assert ok.result is not None
    assert ok.result.artifact_sha256 == "b" * 64
    failed = observe.job_observation(_job([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}],
                                          "2026-11-30T11:00:00Z"), [], "j", NOW)
    assert failed.state == "Failed"
    assert "DeadlineExceeded" in failed.problem


POLICY = {"metadata": {"name": "churn-drift", "namespace": "ml", "uid": "u-1"}}
CHAMPION = jobs.Champion(name="churn-v1", model="churn", uri="file:///models/churn-v1/", sha256="c" * 64)
REQUEST = decide.JobRequest(name="churn-drift-retrain-2", version_name="churn-drift-retrain-2", trigger="Drift",
                            drift_evaluation="2026-11-30T12:00:00Z", created_at="2026-11-30T12:00:00Z")


def _spec(**retrain: Any) -> DriftPolicySpec:
    base: dict[str, Any] = {"trainer": {"datasetUri": "file:///d.csv", "target": "y", "outputUri": "file:///out/",
                                        "estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 2}},
                            "gate": {"metric": "roc_auc", "minImprovement": 0.01}}
    base.update(retrain)
    return DriftPolicySpec.model_validate({"targetRef": {"name": "churn"}, "retrain": base})


def test_the_trainer_job_runs_the_image_without_a_token_and_parses_with_the_real_cli() -> None:
    job = jobs.retrain_job(POLICY, _spec(), REQUEST, CHAMPION, "registry/modelops:1")
    assert job == jobs.retrain_job(POLICY, _spec(), REQUEST, CHAMPION, "registry/modelops:1")  # deterministic
    assert job["metadata"]["ownerReferences"] == [jobs.owner_reference(POLICY)]
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["image"] == "registry/modelops:1"
    assert container["command"] == ["modelops"]
    options = options_from(build_parser(only="train").parse_args(container["args"]))
    assert options.name == "churn-drift-retrain-2"
    assert options.job == "churn-drift-retrain-2"
    assert options.champion_sha256 == "c" * 64
    assert options.parent == "churn-v1"
    assert options.params == {"C": 2}
    assert options.gate_metric == "roc_auc"
    assert options.min_improvement == 0.01
    assert options.drift_policy == "churn-drift"
    assert options.drift_evaluation == "2026-11-30T12:00:00Z"
    assert options.created_at is not None


def test_a_job_template_keeps_the_users_spec_with_our_name_labels_and_owner() -> None:
    template = {"spec": {"backoffLimit": 2, "template": {"metadata": {"labels": {"team": "a"}}, "spec": {
        "containers": [{"name": "mine", "image": "me/trainer:1"}]}}}}
    job = jobs.retrain_job(POLICY, _spec(trainer=None, jobTemplate=template), REQUEST, CHAMPION, "img")
    assert job["metadata"]["name"] == "churn-drift-retrain-2"
    assert job["spec"]["backoffLimit"] == 2
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "a"
    assert pod["metadata"]["labels"][jobs.POLICY_LABEL] == "churn-drift"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["containers"][0]["image"] == "me/trainer:1"


def test_the_model_version_has_lineage_and_no_owner() -> None:
    request = decide.VersionRequest(name="churn-drift-retrain-2", artifact_uri="file:///out/churn-drift-retrain-2/",
                                    artifact_sha256="d" * 64, lineage={"parent": "churn-v1", "job": "j"})
    mv = jobs.model_version("ml", request, "churn")
    assert "ownerReferences" not in mv["metadata"]
    assert mv["spec"] == {"model": "churn", "artifact": {"uri": request.artifact_uri, "sha256": "d" * 64},
                          "lineage": {"parent": "churn-v1", "job": "j"}}


def test_the_model_version_declares_its_parents_validation_so_auto_promotion_waits_for_it() -> None:
    request = decide.VersionRequest(name="churn-drift-retrain-2", artifact_uri="file:///out/churn-drift-retrain-2/",
                                    artifact_sha256="d" * 64, lineage={"parent": "churn-v1"})
    validation: dict[str, Any] = {
        "holdoutUri": "file:///data/holdout.csv", "metrics": [{"name": "accuracy", "min": 0.8}],
        "fairness": {"sensitiveFeature": "segment", "maxDemographicParityDifference": 0.1},
    }
    mv = jobs.model_version("ml", request, "churn", validation)
    assert mv["spec"]["validation"] == validation
    mv["spec"]["validation"]["metrics"][0]["min"] = 0.1
    assert validation["metrics"][0]["min"] == 0.8  # a copy: the parent's spec is never shared

"""`modelops history` against the emulator, after the real operator verified, validated and
rolled out a hand-made version and then a retrain-made one; then Events expire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.cli import main
from modelops.emulator.testing import EmulatorHandle, running_emulator
from tests.operator.harness import (
    CRDS,
    MV_API,
    has_condition,
    model_deployment,
    play_deployment_controller,
    running_operator,
    wait_deployment,
    wait_for,
)
from tests.operator.validation_jobs import build, holdout_csv, run_validation_job, validated_version

pytestmark = pytest.mark.integration

DATASET_SHA = "4ab1" + "0" * 60
RUN_ID = "0f3c9a4e1b2d4c5e8f7a6b5c4d3e2f10"
LINEAGE = {"parent": "churn-v1", "datasetUri": "s3://data/churn/2026-11.parquet", "datasetSha256": DATASET_SHA,
           "job": "churn-drift-retrain-1", "driftPolicy": "churn-drift", "driftEvaluation": "2026-11-27T10:05:00Z"}


def _history(k8s: EmulatorHandle, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["history", "churn", "--kubeconfig", str(k8s.kubeconfig), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("history")
    holdout = holdout_csv(tmp_path / "holdout.csv")
    v1 = build(tmp_path / "v1", biased=False)
    v2 = build(tmp_path / "v2", biased=False, lineage={
        **LINEAGE, "estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5, "max_iter": 200},
        "trainingCode": {"modelops": "0.1.0", "commit": "56855ba"},
        "experimentRun": {"runId": RUN_ID, "trackingUri": "file:///mlruns", "experimentId": "1"}})
    spec = {"holdoutUri": holdout, "metrics": [{"name": "roc_auc", "min": 0.8}]}
    with running_emulator(tmp_path / "kubeconfig", bookmark_interval=1.0, crds=[CRDS]) as k8s:
        with running_operator(k8s):
            # churn-v1 names a parent that is gone: the chain must say so, not start silently.
            k8s.create(validated_version("churn-v1", v1, spec, lineage={"parent": "churn-v0"}))
            run_validation_job(k8s, "churn-v1-validate", tmp_path)
            wait_for(lambda: has_condition(k8s.get(MV_API, "ModelVersion", "churn-v1"), "Ready", "True"), "v1 Ready")
            k8s.create(model_deployment("churn-v1"))
            wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1"), "v1 Deployment")
            play_deployment_controller(k8s, "churn-churn-v1", 2)
            wait_deployment(k8s, "v1 stable", lambda o: (o.get("status") or {}).get("stable") == "churn-v1")
            # A retrain-made version: lineage in spec (the cluster's links) and in its artifact.
            k8s.create(validated_version("churn-v2", v2, spec, lineage=LINEAGE))
            run_validation_job(k8s, "churn-v2-validate", tmp_path)
            wait_for(lambda: has_condition(k8s.get(MV_API, "ModelVersion", "churn-v2"), "Ready", "True"), "v2 Ready")
            k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
            wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "v2 Deployment")
            play_deployment_controller(k8s, "churn-churn-v2", 2)
            wait_deployment(k8s, "v2 stable", lambda o: (o.get("status") or {}).get("stable") == "churn-v2")
        yield k8s


def test_history_shows_every_link_oldest_first(cluster: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _history(cluster, capsys, "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [v["name"] for v in doc["versions"]] == ["churn-v0", "churn-v1", "churn-v2"]
    v0, v1, v2 = doc["versions"]
    assert v0["exists"] is False
    lineage = v2["lineage"]
    assert lineage["parent"] == "churn-v1"
    assert lineage["datasetSha256"] == DATASET_SHA
    assert lineage["trainingJob"] == "churn-drift-retrain-1"
    assert (lineage["driftPolicy"], lineage["driftEvaluation"]) == ("churn-drift", "2026-11-27T10:05:00Z")
    assert lineage["params"] == {"C": 0.5, "max_iter": 200}
    assert lineage["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert lineage["experimentRun"] == {"runId": RUN_ID, "trackingUri": "file:///mlruns", "experimentId": "1"}
    assert lineage["trainingCode"] == {"modelops": "0.1.0", "commit": "56855ba"}
    for v in (v1, v2):
        assert v["validation"]["reason"] == "ValidationPassed"
        assert v["validation"]["job"] == f"{v['name']}-validate"
        (figure,) = v["validation"]["figures"]
        assert figure["metric"] == "roc_auc"
        assert figure["verdict"] == "Pass"
        assert figure["value"] >= 0.8
    decisions = [(d["result"], d["version"]) for d in doc["decisions"]]
    assert decisions == [("Promoted", "churn-v1"), ("Promoted", "churn-v2")]
    assert [d["time"] for d in doc["decisions"]] == sorted(d["time"] for d in doc["decisions"])
    first, second = doc["decisions"]
    assert {e["reason"] for e in first["events"]} == {"Promoted"}  # a first rollout is announced once
    assert {e["reason"] for e in second["events"]} >= {"RolloutStarted", "Promoted"}
    for d in doc["decisions"]:
        assert any(d["version"] in e["message"] for e in d["events"])
    assert any("churn-v0 (parent of churn-v1) no longer exists" in f for f in doc["forgotten"])
    assert not any("expired" in f for f in doc["forgotten"])

    code, text, _ = _history(cluster, capsys)
    assert code == 0
    assert "version churn-v0: deleted" in text
    assert "parent churn-v1; triggered by DriftPolicy churn-drift evaluation at 2026-11-27T10:05:00Z; " \
           "training Job churn-drift-retrain-1" in text
    assert f"experiment run {RUN_ID} at file:///mlruns" in text
    assert "rollout churn: Promoted churn-v2" in text
    assert text.index("version churn-v1 created") < text.index("rollout churn: Promoted churn-v1") < \
        text.index("rollout churn: Promoted churn-v2")
    code, as_yaml, _ = _history(cluster, capsys, "-o", "yaml")
    assert yaml.safe_load(as_yaml) == doc


def test_expired_events_and_deleted_versions_are_said_not_skipped(
    cluster: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    # What an API server does after its event TTL: the first rollout's Events are gone.
    for event in cluster.list("v1", "Event", "default"):
        message = event["message"]
        if event["involvedObject"]["kind"] == "ModelDeployment" and "churn-v1" in message and "churn-v2" not in message:
            cluster.delete("v1", "Event", event["metadata"]["name"])
    code, out, _ = _history(cluster, capsys, "-o", "json")
    assert code == 0
    doc = json.loads(out)
    first, second = doc["decisions"]
    assert first["events"] == []
    assert any("decision at" in f and "Promoted churn-v1) have expired" in f for f in doc["forgotten"])
    assert second["events"]
    code, text, _ = _history(cluster, capsys)
    assert "forgotten by the cluster:" in text


def test_a_model_the_cluster_does_not_know_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path / "kubeconfig", crds=[CRDS]) as k8s:
        code = main(["history", "nothing", "--kubeconfig", str(k8s.kubeconfig)])
    assert code == 1
    assert "no ModelVersion or ModelDeployment of model 'nothing' in namespace 'default'" in capsys.readouterr().err


def test_no_credentials_say_how_to_give_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "churn", "--kubeconfig", str(tmp_path / "absent")]) == 1
    assert "pass --kubeconfig or set KUBECONFIG" in capsys.readouterr().err

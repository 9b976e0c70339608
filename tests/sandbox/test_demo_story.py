"""The demo's pure parts: which steps a snapshot of the cluster shows, the manifests it applies,
its data, and its clients' loopback-only rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelops.sandbox.demo import dataset
from modelops.sandbox.demo.manifests import NORMAL, documents
from modelops.sandbox.demo.story import STEPS, Snapshot, Story
from modelops.sandbox.demo.traffic import Traffic


def _cond(type_: str, status: str, reason: str = "R", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def _story() -> tuple[Story, list[tuple[str, str]]]:
    said: list[tuple[str, str]] = []
    return Story("churn", "churn", "churn-drift", "churn-v1", lambda k, t: said.append((k, t))), said


def _policy(verdict: str, score: float, *, drifted: int = 0, detected: bool = False,
            retrain: dict[str, Any] | None = None, time: str = "t1") -> dict[str, Any]:
    status: dict[str, Any] = {
        "lastEvaluation": {"time": time, "verdict": verdict, "samples": 300, "replicas": 2, "features": [
            {"name": "tenure", "method": "ks", "score": score, "threshold": 0.1, "drifted": score > 0.1}]},
        "streak": {"drifted": drifted, "clean": 0},
        "conditions": [_cond("DriftDetected", "True" if detected else "False", "Drift", "tenure ks")],
    }
    if retrain:
        status["lastRetrain"] = retrain
    return {"metadata": {"name": "churn-drift"}, "status": status}


def _version(name: str, *, lineage: dict[str, Any] | None = None, validated: str | None = None) -> dict[str, Any]:
    conditions = [_cond("Ready", "True", "ValidationPassed")]
    if validated:
        conditions.append(_cond("Validated", validated, "ValidationPassed"))
    return {"metadata": {"name": name}, "spec": {"model": "churn", "lineage": lineage or {}, "validation": {}},
            "status": {"conditions": conditions, "validation": {"results": [
                {"metric": "roc_auc", "value": 0.88, "limit": 0.75, "bound": "min", "verdict": "Pass"},
                {"metric": "demographic_parity_difference", "group": "segment", "value": 0.03, "limit": 0.1,
                 "bound": "max", "verdict": "Pass"}]}}}


def _mdep(stable: str, candidate: str | None = None, *, analysis: bool = False,
          phase: str = "Stable") -> dict[str, Any]:
    status: dict[str, Any] = {"stable": stable, "phase": phase, "conditions": [_cond("Ready", "True", "Available")]}
    if candidate:
        status.update(candidate=candidate, step=0, weight=50, phase="Progressing")
        if analysis:
            status["analysis"] = [{"metric": "accuracyDrop", "value": -0.1, "threshold": 0.02, "samples": 60,
                                   "verdict": "Pass"}]
    return {"metadata": {"name": "churn"}, "status": status}


def test_the_whole_loop_marks_every_step_once() -> None:
    story, said = _story()
    v2 = "churn-drift-retrain-1"
    lineage = {"parent": "churn-v1", "job": v2, "driftPolicy": "churn-drift"}
    job = {"metadata": {"name": v2, "labels": {"modelops.dev/drift-policy": "churn-drift"}}, "status": {"succeeded": 1}}
    retrain = {"job": v2, "result": "Succeeded", "reason": "Improved",
               "gate": {"metric": "roc_auc", "champion": 0.7725003743822692, "challenger": 0.89}}
    frames = [
        Snapshot([_version("churn-v1", validated="True")], [_mdep("churn-v1")], [_policy("Clean", 0.03)], []),
        Snapshot([_version("churn-v1")], [_mdep("churn-v1")], [_policy("Drifted", 0.6, drifted=2, detected=True,
                                                                        time="t2")], [job]),
        Snapshot([_version("churn-v1"), _version(v2, lineage=lineage, validated="True")],
                 [_mdep("churn-v1", v2, analysis=True)],
                 [_policy("Drifted", 0.6, drifted=3, detected=True, retrain=retrain, time="t3")], [job]),
        Snapshot([_version(v2, lineage=lineage, validated="True")], [_mdep(v2)], [], []),
    ]
    for frame in frames:
        story.observe(frame, {"churn-v1": 0.5, v2: 0.5})
        story.observe(frame, {"churn-v1": 0.5, v2: 0.5})  # the same state again says nothing new
    assert story.missing() == []
    assert set(story.done) == {step for step, _ in STEPS}
    texts = [t for _, t in said]
    assert len(texts) == len(set(texts))
    assert any("roc_auc: champion 0.7725, challenger 0.8900" in t for t in texts)
    assert any("demographic_parity_difference[segment]=0.030 ≤ 0.1 Pass" in t for t in texts)


def test_a_version_without_validation_and_no_promotion_are_named_missing() -> None:
    story, said = _story()
    v2 = "churn-drift-retrain-1"
    unvalidated = _version(v2, lineage={"parent": "churn-v1", "job": v2})
    unvalidated["spec"].pop("validation")
    story.observe(Snapshot([_version("churn-v1", validated="True"), unvalidated], [_mdep("churn-v1")], [], []), {})
    assert "v2 validated (metric and fairness figures)" in story.missing()
    assert "v2 promoted and stable" in story.missing()
    assert ("error", f"{v2} is Ready without validation (its spec declares none)") in said


def test_the_examples_are_pointed_at_the_demo_files_and_time_compressed() -> None:
    docs = {d["kind"]: d for d in documents(artifact_uri="file:///a/churn-v1/", sha256="0" * 64,
                                            holdout_uri="file:///d/h.csv", retrain_uri="file:///d/r.csv",
                                            output_uri="file:///a/", pace=NORMAL)}
    mv, mdep, dp = docs["ModelVersion"], docs["ModelDeployment"], docs["DriftPolicy"]
    assert mv["spec"]["artifact"]["uri"] == "file:///a/churn-v1/"
    assert mv["spec"]["validation"]["holdoutUri"] == "file:///d/h.csv"
    assert mv["spec"]["validation"]["fairness"]["sensitiveFeature"] == dataset.SENSITIVE
    assert mdep["spec"]["promotion"] == "Auto"
    assert mdep["spec"]["strategy"]["type"] == "Canary"
    assert {s["pause"] for s in mdep["spec"]["strategy"]["canary"]["steps"]} == {NORMAL.step_pause}
    assert dp["spec"]["interval"] == NORMAL.drift_interval
    assert dp["spec"]["retrain"]["trainer"]["datasetUri"] == "file:///d/r.csv"
    assert dp["spec"]["retrain"]["trainer"]["outputUri"] == "file:///a/"


def test_the_shift_moves_tenure_and_is_learnable() -> None:
    rng = np.random.default_rng(0)
    before, after = dataset.rows(dataset.REFERENCE, 2000, rng), dataset.rows(dataset.SHIFTED, 2000, rng)
    assert before["tenure"].max() <= 60 < after["tenure"].mean() + 20
    # Churn returns past six years of tenure: absent from the reference, present after the shift.
    assert after.loc[after["tenure"] > 72, "churned"].mean() > before.loc[before["tenure"].between(40, 60),
                                                                          "churned"].mean() + 0.3
    # The sensitive feature says nothing about churn: a fair model can pass the parity limit.
    by_group = before.groupby(dataset.SENSITIVE)["churned"].mean()
    assert abs(by_group[0] - by_group[1]) < 0.06


def test_the_clients_talk_to_loopback_addresses_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Traffic("http://10.0.0.1:8080", "churn", rate=1.0)
    assert Traffic("http://127.0.2.3:8080", "churn", rate=1.0).base == "http://127.0.2.3:8080"


def test_events_are_coloured_on_a_terminal_and_plain_lines_otherwise() -> None:
    import io

    from rich.console import Console

    from modelops.sandbox.demo.display import Display

    tty, pipe = io.StringIO(), io.StringIO()
    Display(console=Console(file=tty, force_terminal=True, width=200)).event("drift", "tenure ks [0.67] DRIFTED")
    Display(console=Console(file=pipe, force_terminal=False, width=60)).event("drift", "tenure ks [0.67] " + "x" * 80)
    assert "\x1b[" in tty.getvalue()
    assert "tenure ks [0.67] DRIFTED" in tty.getvalue()  # brackets are text, not markup
    assert "\x1b[" not in pipe.getvalue()
    assert pipe.getvalue().count("\n") == 1  # one line per event, never wrapped
    assert "drift      tenure ks [0.67] " in pipe.getvalue()

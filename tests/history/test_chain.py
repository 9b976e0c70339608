"""The audit chain as a pure function of the objects, and the lineage the operator copies."""

from __future__ import annotations

from typing import Any

from modelops.history.chain import HISTORY_KEPT, chain
from modelops.operator.modelversion.verify import lineage_summary


def _mv(name: str, created: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": created},
            "spec": {"model": "churn", "artifact": {"uri": f"s3://m/{name}/", "sha256": "a" * 64}, **spec}}


def _event(name: str, reason: str, message: str, time: str, rv: int) -> dict[str, Any]:
    return {"metadata": {"name": f"e{rv}", "resourceVersion": str(rv)},
            "involvedObject": {"kind": "ModelDeployment", "name": name},
            "type": "Normal", "reason": reason, "message": message, "lastTimestamp": time}


def test_decisions_claim_the_events_about_their_version_and_a_full_history_is_said() -> None:
    history = [{"version": f"churn-v{i}", "result": "Promoted", "at": f"2026-11-27T1{i}:00:00Z", "reason": "ok"}
               for i in range(HISTORY_KEPT)]
    mdep = {"metadata": {"name": "churn"}, "spec": {"model": "churn"}, "status": {"history": history}}
    events = [_event("churn", "Promoted", "churn-v9 promoted: ok; churn-v8 retires",
                     "2026-11-27T19:00:00Z", 7),
              _event("churn", "RolloutStarted", "rolling out churn-v9 next to churn-v8",
                     "2026-11-27T19:00:00Z", 5),
              _event("churn", "StepStarted", "rolling out churn-v10: step 1", "2026-11-27T20:00:00Z", 9),
              _event("other", "Promoted", "churn-v9 promoted", "2026-11-27T19:00:00Z", 8)]
    versions = [_mv(f"churn-v{i}", f"2026-11-27T0{i}:00:00Z") for i in range(3)]
    out = chain("churn", "default", versions, [mdep], events)
    last = next(d for d in out.decisions if d.version == "churn-v9" and d.result == "Promoted")
    assert [e.reason for e in last.events] == ["RolloutStarted", "Promoted"]  # written order within a second
    assert out.decisions[-1].result == "StepStarted"  # under way: after the last decision
    assert any(f"keeps its last {HISTORY_KEPT} decisions" in f for f in out.forgotten)
    assert any("churn-v0's" not in f and "Promoted churn-v0) have expired" in f for f in out.forgotten)
    assert any("ModelVersion churn-v5 (Promoted by churn at" in f for f in out.forgotten)
    assert [v.name for v in out.versions] == ["churn-v0", "churn-v1", "churn-v2"]


def test_other_models_are_not_in_the_chain() -> None:
    out = chain("churn", "default", [_mv("churn-v1", "t"), {**_mv("fraud-v1", "t"), "spec": {"model": "fraud"}}],
                [], [])
    assert [v.name for v in out.versions] == ["churn-v1"]


def test_the_artifacts_lineage_is_copied_in_the_schemas_types() -> None:
    raw = {"parent": "churn-v1", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
           "params": {"max_iter": 200, "class_weight": None, "layers": [1, 2]}, "seed": 7,
           "trainingCode": {"modelops": "0.1.0", "commit": None},
           "experimentRun": {"runId": "r1", "trackingUri": "file:///mlruns"}, "free": {"form": True}}
    assert lineage_summary(raw) == {
        "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
        "params": {"max_iter": "200", "class_weight": "null", "layers": "[1, 2]"},
        "parent": "churn-v1", "trainingCode": {"modelops": "0.1.0"},
        "experimentRun": {"runId": "r1", "trackingUri": "file:///mlruns"}}
    assert lineage_summary(None) is None
    assert lineage_summary({"note": "hand-made"}) == {}

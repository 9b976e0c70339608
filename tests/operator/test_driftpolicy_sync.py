"""When a DriftPolicy looks again: never a hot loop when an evaluation cannot be made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.conditions import Desired
from modelops.operator.driftpolicy import decide, sync

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LONG_AGO = {"lastEvaluation": {"time": "2026-11-30T11:00:00Z"}}


def test_a_failed_evaluation_waits_a_whole_interval_not_for_the_overdue_one() -> None:
    idle = decide.PolicyStatus()
    # lastEvaluation is an hour old: the next one is overdue, but this one just failed (no replica)
    assert sync._requeue(LONG_AGO, {}, MINUTE, NOW, suspended=False, state=idle, failed=True) == 60.0
    assert sync._requeue(LONG_AGO, {}, MINUTE, NOW, suspended=False, state=idle, failed=False) == 0.05
    fresh = {"lastEvaluation": {"time": "2026-11-30T12:00:00Z"}}
    assert sync._requeue({}, fresh, MINUTE, NOW + timedelta(seconds=20), suspended=False, state=idle,
                         failed=False) == 40.0
    assert sync._requeue(LONG_AGO, {}, MINUTE, NOW, suspended=True, state=idle, failed=True) is None


def test_a_running_retrain_is_looked_at_sooner() -> None:
    running = decide.PolicyStatus(last_retrain=decide.LastRetrain(job="j", started_at=NOW, trigger="Drift"))
    assert sync._requeue({}, {}, timedelta(hours=1), NOW, suspended=False, state=running,
                         failed=False) == sync.RETRAIN_POLL_S


def test_drift_gauges_replace_a_policys_series_and_go_with_it() -> None:
    from prometheus_client import REGISTRY

    from modelops.operator import metrics

    def score(feature: str, method: str) -> float | None:
        return REGISTRY.get_sample_value("modelops_drift_score", {"namespace": "t", "policy": "p",
                                                                  "feature": feature, "method": method})

    metrics.drift_scores("t", "p", [("a", "ks", 0.3), ("b", "jensenshannon", 0.1)])
    metrics.drift_detected("t", "p", True)
    metrics.drift_scores("t", "p", [("a", "psi", 0.4)])  # a's method changed, b left the model
    assert score("a", "psi") == 0.4
    assert score("a", "ks") is None
    assert score("b", "jensenshannon") is None
    assert REGISTRY.get_sample_value("modelops_drift_detected", {"namespace": "t", "policy": "p"}) == 1.0
    metrics.forget_policy("t", "p")
    assert score("a", "psi") is None
    assert REGISTRY.get_sample_value("modelops_drift_detected", {"namespace": "t", "policy": "p"}) is None


def test_waiting_for_the_targets_first_rollout_is_a_normal_event_and_a_fault_a_warning() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    policy = {"metadata": {"name": "churn-drift", "namespace": "ml", "generation": 1}}
    waiting = sync._plan(policy, {}, [Desired("Ready", "False", "NoStableVersion", "churn has no stable version")],
                         {}, now, manual=False)
    assert [(e.type, e.reason) for e in waiting.events] == [("Normal", "NoStableVersion")]
    missing = sync._plan(policy, {}, [Desired("Ready", "False", "TargetNotFound", "ml/churn does not exist")],
                         {}, now, manual=False)
    assert [(e.type, e.reason) for e in missing.events] == [("Warning", "TargetNotFound")]

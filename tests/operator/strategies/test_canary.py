"""Canary under the Replicas router: steps, analysis, rollback, promotion (seeded status in, plan out)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import analysis_due
from modelops.operator.modeldeployment.strategies.canary import candidate_replicas
from modelops.operator.plans import status_patch
from tests.operator.objects import UID, deployment, model_deployment, model_version, service

from .support import NOW, applied, cond, message, observation, run, sample, stable_status

VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]
STRATEGY: dict[str, Any] = {
    "type": "Canary",
    "canary": {"steps": [{"weight": 20, "pause": "1m"}, {"weight": 50, "pause": "1m"}]},
    "analysis": {"interval": "30s", "minSamples": 100, "failureLimit": 1},
    "progressDeadline": "5m",
    "scaleDownDelay": "2m",
}
STARTED = "2026-11-30T11:59:00Z"  # a minute before NOW


def _at(now_offset_s: float = 0.0) -> Any:
    return NOW + timedelta(seconds=now_offset_s)


def _canary(status: dict[str, Any] | None = None, *, replicas: int = 4, annotations: dict[str, str] | None = None,
            **strategy: Any) -> dict[str, Any]:
    st = {**STRATEGY, **strategy}
    return model_deployment(version="churn-v2", replicas=replicas, strategy=st, annotations=annotations,
                            status=status or stable_status())


def _rolling(step: int = 0, **extra: Any) -> dict[str, Any]:
    return stable_status(**{"phase": "Progressing", "candidate": "churn-v2", "step": step, "stepStartedAt": STARTED,
                            **extra})


def _children(candidate_replicas: int, candidate_ready: int, stable_ready: int = 4) -> list[dict[str, Any]]:
    return [deployment("churn-churn-v1", "churn-v1", replicas=4, available=stable_ready),
            deployment("churn-churn-v2", "churn-v2", replicas=candidate_replicas, available=candidate_ready)]


def test_candidate_replicas_follow_the_issue_formula() -> None:
    assert [candidate_replicas(4, w) for w in (1, 10, 20, 50, 100)] == [1, 1, 1, 2, 4]
    assert candidate_replicas(10, 25) == 3  # 2.5 rounds half up
    assert candidate_replicas(2, 100) == 2


def test_a_new_version_starts_at_the_first_step_with_service_d_over_both_versions() -> None:
    p = run(_canary(), versions=VERSIONS, deployments=_children(4, 4)[:1],
            services=[service("churn", "churn-v1")])
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 1  # 20% of 4
    assert applied(p, "Deployment", "churn-churn-v1")["spec"]["replicas"] == 4  # stable never scaled down
    # merge patch: null drops the version key, so Service D selects every serving pod of churn
    assert applied(p, "Service", "churn")["spec"]["selector"] == {"app.kubernetes.io/instance": "churn",
                                                                  "modelops.dev/version": None}
    assert (p.status["phase"], p.status["step"], p.status["candidate"]) == ("Progressing", 0, "churn-v2")
    assert p.status["stepStartedAt"] == "2026-11-30T12:00:00Z"
    assert any(e.reason == "RolloutStarted" and "(Canary)" in e.message for e in p.events)


def test_status_weight_is_the_effective_share_and_the_message_says_it_differs() -> None:
    p = run(_canary(_rolling()), versions=VERSIONS, deployments=_children(1, 1))
    assert p.status["weight"] == 20  # 1 of 5 ready pods
    p = run(_canary(_rolling(step=1)), versions=VERSIONS, deployments=_children(2, 2))
    assert p.status["weight"] == 33  # 2 of 6 ready pods at the 50% step
    assert "effective weight 33% (not the step's 50%: the stable version keeps its 4 replicas)" in message(
        p, "Progressing")


def test_analysis_is_due_once_the_step_pods_are_ready_and_every_interval() -> None:
    observed = Observed.from_objects(UID, VERSIONS, _children(1, 0))
    assert analysis_due(_canary(_rolling()), observed, image="i", now=NOW) is None  # pods not ready
    observed = Observed.from_objects(UID, VERSIONS, _children(1, 1))
    due = analysis_due(_canary(_rolling()), observed, image="i", now=NOW)
    assert due is not None
    assert (due.stable, due.candidate, due.interval) == ("churn-v1", "churn-v2",
                                                                             timedelta(seconds=30))
    recent = _rolling(lastAnalysisAt="2026-11-30T11:59:50Z", stepVerdict="Inconclusive")
    assert analysis_due(_canary(recent), observed, image="i", now=NOW) is None  # 10 s ago: not yet
    assert analysis_due(_canary(recent), observed, image="i", now=_at(20)) is not None
    assert analysis_due(_canary(_rolling(), paused=False) | {"spec": {**_canary()["spec"], "paused": True}},
                        observed, image="i", now=NOW) is None


def test_a_passing_analysis_is_recorded_and_the_step_waits_for_its_pause() -> None:
    obs = observation(sample("churn-v1"), sample("churn-v2"))
    status = _rolling(stepStartedAt="2026-11-30T11:59:30Z")
    p = run(_canary(status), versions=VERSIONS, deployments=_children(1, 1), observation=obs)
    assert (p.status["stepVerdict"], p.status["step"], p.status["lastAnalysisAt"]) == ("Pass", 0,
                                                                                       "2026-11-30T12:00:00Z")
    assert {r["metric"]: r["verdict"] for r in p.status["analysis"]} == {
        "errorRate": "Pass", "latencyP99Ratio": "Pass", "predictionPSI": "Pass"}
    assert "failedAnalyses" not in p.status
    assert any(e.reason == "AnalysisPass" and "errorRate Pass" in e.message for e in p.events)
    assert p.requeue_after == 30.0  # the pause ends in 30 s, as does the next analysis


def test_a_passed_step_whose_pause_elapsed_advances_keeping_the_analysis_state() -> None:
    status = _rolling(stepVerdict="Pass", lastAnalysisAt="2026-11-30T11:59:50Z", failedAnalyses=0)
    p = run(_canary(status), versions=VERSIONS, deployments=_children(1, 1))
    assert (p.status["step"], p.status["stepStartedAt"]) == (1, "2026-11-30T12:00:00Z")
    assert "stepVerdict" not in p.status  # the new step needs its own passing analysis
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert any(e.reason == "StepPassed" for e in p.events)


def test_a_failing_analysis_rolls_back_at_once_with_its_figures() -> None:
    obs = observation(sample("churn-v1"), sample("churn-v2", errors=50))
    p = run(_canary(_rolling()), versions=VERSIONS, deployments=_children(1, 1), observation=obs,
            services=[service("churn", "churn-v1")])
    assert (p.status["phase"], p.status["stable"], p.status.get("candidate")) == ("RolledBack", "churn-v1", None)
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0  # scaled to zero, kept
    assert applied(p, "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
    assert cond(p, "Progressing") == ("False", "AnalysisFailed")
    assert "errorRate failed at step 1/2 (50 of 1000 candidate requests failed (5%, limit 1%))" in message(
        p, "Progressing")
    assert p.status["failedAnalyses"] == 1
    assert p.status["history"][-1]["result"] == "RolledBack"
    assert "errorRate" in p.status["history"][-1]["reason"]
    rolled = [e for e in p.events if e.reason == "RolledBack"]
    assert rolled
    assert rolled[0].type == "Warning"
    assert "5%" in rolled[0].message
    # Not retried on the next reconcile of the same generation...
    again = run(_canary(dict(p.status)), versions=VERSIONS, deployments=_children(0, 0))
    assert again.status["phase"] == "RolledBack"
    assert "candidate" not in again.status
    assert applied(again, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0
    assert status_patch(p.status, again.status) == {}
    # ...until a retry action.
    retried = run(_canary(dict(p.status), annotations={"modelops.dev/action": "retry"}), versions=VERSIONS,
                  deployments=_children(0, 0))
    assert (retried.status["phase"], retried.status["candidate"], retried.status["step"]) == (
        "Progressing", "churn-v2", 0)
    assert "failedAnalyses" not in retried.status
    assert retried.remove_action


def test_failures_below_the_limit_hold_the_step() -> None:
    obs = observation(sample("churn-v1"), sample("churn-v2", bucket=4))  # p99 far above stable's
    p = run(_canary(_rolling(), analysis={**STRATEGY["analysis"], "failureLimit": 2}), versions=VERSIONS,
            deployments=_children(1, 1), observation=obs)
    assert (p.status["phase"], p.status["failedAnalyses"], p.status["stepVerdict"]) == ("Progressing", 1, "Fail")
    assert any(e.reason == "AnalysisFailed" and e.type == "Warning" for e in p.events)
    status = dict(p.status, lastAnalysisAt="2026-11-30T11:59:00Z")
    p = run(_canary(status, analysis={**STRATEGY["analysis"], "failureLimit": 2}), versions=VERSIONS,
            deployments=_children(1, 1), observation=obs)
    assert p.status["phase"] == "RolledBack"
    assert "latencyP99Ratio" in message(p, "Progressing")


def test_too_few_samples_is_inconclusive_then_paused_past_the_deadline_until_an_action() -> None:
    obs = observation(sample("churn-v1", requests=20), sample("churn-v2", requests=20))
    p = run(_canary(_rolling()), versions=VERSIONS, deployments=_children(1, 1), observation=obs)
    assert (p.status["stepVerdict"], p.status["phase"], p.status["step"]) == ("Inconclusive", "Progressing", 0)
    late = _rolling(stepStartedAt="2026-11-30T11:54:00Z", stepVerdict="Inconclusive",
                    lastAnalysisAt="2026-11-30T11:59:40Z")
    p = run(_canary(late), versions=VERSIONS, deployments=_children(1, 1))
    assert (p.status["phase"], cond(p, "Progressing")) == ("Paused", ("False", "InsufficientData"))
    assert p.status["candidate"] == "churn-v2"  # no blind promotion, no silent rollback
    observed = Observed.from_objects(UID, VERSIONS, _children(1, 1))
    assert analysis_due(_canary(late), observed, image="i", now=_at(600)) is None
    promoted = run(_canary(late, annotations={"modelops.dev/action": "promote"}), versions=VERSIONS,
                   deployments=_children(1, 1))
    assert (promoted.status["phase"], promoted.status["step"]) == ("Progressing", 2)  # scaling up to promote
    assert applied(promoted, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 4
    assert promoted.remove_action
    aborted = run(_canary(late, annotations={"modelops.dev/action": "abort"}), versions=VERSIONS,
                  deployments=_children(1, 1))
    assert (aborted.status["phase"], cond(aborted, "Progressing")) == ("RolledBack", ("False", "Aborted"))


def test_after_the_last_step_the_candidate_is_scaled_up_promoted_and_the_old_version_retires() -> None:
    status = _rolling(step=2, stepVerdict="Pass")
    p = run(_canary(status), versions=VERSIONS, deployments=_children(2, 2))
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 4
    assert p.status["phase"] == "Progressing"
    p = run(_canary(status), versions=VERSIONS, deployments=_children(4, 4))
    assert (p.status["phase"], p.status["stable"], p.status["weight"]) == ("Stable", "churn-v2", 100)
    assert p.status["retiring"] == [{"version": "churn-v1", "deleteAfter": "2026-11-30T12:02:00Z"}]
    assert p.delete == ()
    assert ("Deployment", "churn-churn-v1") not in [(c["kind"], c["metadata"]["name"]) for c in p.apply]
    assert applied(p, "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    assert p.requeue_after == 120.0
    assert any(e.reason == "Promoted" and "all 2 steps passed" in e.message for e in p.events)
    later = run(_canary(dict(p.status)), versions=VERSIONS, deployments=_children(4, 4), now=_at(121))
    assert ("Deployment", "churn-churn-v1", "uid-deployment-churn-churn-v1") in later.delete
    assert "retiring" not in later.status


def test_a_restart_resumes_the_same_step_without_writing_or_analysing_again() -> None:
    status = _rolling(step=1, stepVerdict="Pass", lastAnalysisAt="2026-11-30T11:59:50Z", failedAnalyses=0,
                      stepStartedAt="2026-11-30T11:59:30Z")
    first = run(_canary(status), versions=VERSIONS, deployments=_children(2, 2))
    second = run(_canary(dict(first.status)), versions=VERSIONS, deployments=_children(2, 2))
    assert status_patch(first.status, second.status) == {}
    assert second.status["step"] == 1
    assert second.status["weight"] == 33


def test_spec_paused_holds_the_step() -> None:
    p = run(_canary(_rolling(step=1), paused=True) | {"spec": {**_canary()["spec"], "paused": True}},
            versions=VERSIONS, deployments=_children(2, 2))
    assert (p.status["phase"], p.status["step"], cond(p, "Progressing")) == ("Paused", 1, ("False", "Paused"))


def test_pods_not_ready_by_the_deadline_roll_back() -> None:
    late = _rolling(stepStartedAt="2026-11-30T11:50:00Z")
    p = run(_canary(late), versions=VERSIONS, deployments=_children(1, 0))
    assert (p.status["phase"], cond(p, "Progressing")) == ("RolledBack", ("False", "ProgressDeadlineExceeded"))


def test_weights_that_do_not_increase_are_an_invalid_spec_naming_the_field() -> None:
    p = run(_canary(canary={"steps": [{"weight": 50}, {"weight": 20}]}), versions=VERSIONS,
            deployments=_children(4, 4)[:1])
    assert cond(p, "Ready") == ("False", "InvalidSpec")
    assert message(p, "Ready").startswith("spec.strategy.canary.steps[1].weight: weights must increase")


def test_the_weight_counts_the_candidate_pods_serving_while_it_scales_up_to_the_next_step() -> None:
    # Step 2/2 (50%) has started: churn-v2 is asked for 2 replicas, its one pod of step 1 still
    # serves behind Service D (the sandbox's e2e canary saw the weight drop to 0 here, then rise).
    p = run(_canary(_rolling(step=1)), versions=VERSIONS, deployments=_children(1, 1))
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert p.status["weight"] == 20  # 1 of 5 ready pods, not 0
    assert "1/2 candidate and 4/4 stable replicas ready: effective weight 20%" in message(p, "Progressing")
    p = run(_canary(_rolling(step=1)), versions=VERSIONS, deployments=_children(2, 1))
    assert p.status["weight"] == 20


def test_the_first_analysis_of_a_later_step_cannot_pass_its_interval_began_at_the_step_before() -> None:
    # Step 2/2 (50%): churn-v2's second pod became ready after the step started; the interval of
    # this first analysis began at step 1's last one, while v2 served at 20% (the sandbox's e2e
    # canary passed a 50% step the moment its pods were ready, on figures of the 20% step).
    obs = observation(sample("churn-v1"), sample("churn-v2"))
    status = _rolling(step=1, stepStartedAt="2026-11-30T11:58:00Z", lastAnalysisAt="2026-11-30T11:58:00Z")
    p = run(_canary(status), versions=VERSIONS, deployments=_children(2, 2), observation=obs)
    assert (p.status["step"], p.status["stepVerdict"]) == (1, "Inconclusive")  # the pause elapsed: not enough
    assert {r["verdict"] for r in p.status["analysis"]} == {"Inconclusive"}
    assert any(e.reason == "AnalysisInconclusive" and "figures next interval" in e.message for e in p.events)
    # The next interval is the step's own: it passes, and the step advances (to the scale-up).
    again = run(_canary({**status, "stepVerdict": "Inconclusive", "lastAnalysisAt": "2026-11-30T11:59:30Z"}),
                versions=VERSIONS, deployments=_children(2, 2), observation=obs)
    assert (again.status["step"], again.status["stepVerdict"]) == (2, "Pass")
    # A failing first analysis still counts: the figures are the candidate's, whatever its weight.
    bad = observation(sample("churn-v1"), sample("churn-v2", errors=50))
    p = run(_canary(status), versions=VERSIONS, deployments=_children(2, 2), observation=bad)
    assert (p.status["phase"], cond(p, "Progressing")) == ("RolledBack", ("False", "AnalysisFailed"))
    # The first step has no step before: its candidate pods served at its weight only.
    first = run(_canary(_rolling(stepStartedAt="2026-11-30T11:59:30Z")), versions=VERSIONS,
                deployments=_children(1, 1), observation=obs)
    assert first.status["stepVerdict"] == "Pass"
    # Nor does a step that gives the candidate no more pods (20% and 30% of 4 are both 1 pod).
    same = _canary(status, canary={"steps": [{"weight": 20, "pause": "1m"}, {"weight": 30, "pause": "1m"}]})
    p = run(same, versions=VERSIONS, deployments=_children(1, 1), observation=obs)
    assert (p.status["step"], p.status["stepVerdict"]) == (2, "Pass")

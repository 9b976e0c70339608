"""Shadow under the Replicas router: mirror, analysis, then Promote or Canary, rollback (seeded status in, plan out)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelops.api.modeldeployment import Analysis, ModelDeploymentSpec, Strategy
from modelops.operator.analysis.criteria import DEFAULT_MIN_AGREEMENT, Thresholds
from modelops.operator.analysis.samples import ShadowSample, VersionSample
from modelops.operator.analysis.sources import Observation
from modelops.operator.modeldeployment import children
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import analysis_due
from modelops.operator.plans import Plan, status_patch
from tests.operator.objects import UID, deployment, model_deployment, model_version, service

from .support import NOW, applied, cond, message, run, sample, stable_status

VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]
STRATEGY: dict[str, Any] = {
    "type": "Shadow",
    "shadow": {"mirrorPercent": 50, "minSamples": 1000, "then": "Promote"},
    "canary": {"steps": [{"weight": 20, "pause": "1m"}, {"weight": 50, "pause": "1m"}]},
    "analysis": {"interval": "30s", "minSamples": 100, "failureLimit": 1, "minAgreement": 0.95},
    "progressDeadline": "5m",
    "scaleDownDelay": "2m",
}
STARTED = "2026-11-30T11:59:00Z"  # a minute before NOW
FLAGS = ["--shadow-url", "http://churn-churn-v2.default.svc:8080", "--shadow-percent", "50",
         "--shadow-version", "churn-v2"]


def _at(seconds: float) -> Any:
    return NOW + timedelta(seconds=seconds)


def _shadow(status: dict[str, Any] | None = None, *, then: str = "Promote", annotations: dict[str, str] | None = None,
            **strategy: Any) -> dict[str, Any]:
    st = {**STRATEGY, "shadow": {**STRATEGY["shadow"], "then": then}, **strategy}
    return model_deployment(version="churn-v2", replicas=4, strategy=st, annotations=annotations,
                            status=status or stable_status())


def _shadowing(**extra: Any) -> dict[str, Any]:
    return stable_status(**{"phase": "Progressing", "candidate": "churn-v2", "step": 0, "weight": 0,
                            "stepStartedAt": STARTED, **extra})


def _serve_args(dep: dict[str, Any]) -> list[str]:
    return list(dep["spec"]["template"]["spec"]["containers"][0]["args"])


def _observed(p: Plan, name: str, available: int) -> dict[str, Any]:
    """A Deployment the plan applied, as the API returns it once its controller rolled it out."""
    dep = applied(p, "Deployment", name)
    return {**dep, "metadata": {**dep["metadata"], "generation": 1, "uid": f"uid-deployment-{name}"},
            "status": {"observedGeneration": 1, "availableReplicas": available}}


def _children(candidate_ready: int = 4, *, mirroring: bool = True, then: str = "Promote") -> list[dict[str, Any]]:
    """Stable at 4 (with the mirror flags when ``mirroring``) and the candidate at 4, as built by the operator."""
    status = _shadowing()
    p = run(_shadow(status, then=then), versions=VERSIONS, deployments=[
        deployment("churn-churn-v1", "churn-v1", replicas=4, available=4),
        deployment("churn-churn-v2", "churn-v2", replicas=4, available=0)])
    stable = _observed(p, "churn-churn-v1", 4)
    if not mirroring:
        stable = deployment("churn-churn-v1", "churn-v1", replicas=4, available=4)
    return [stable, _observed(p, "churn-churn-v2", candidate_ready)]


def _observation(*, compared: int = 2000, agreed: int = 1990, mirrored: int = 1000, errors: int = 0,
                 candidate: VersionSample | None = None) -> Observation:
    stable, cand = sample("churn-v1"), candidate or sample("churn-v2")
    shadow = ShadowSample("churn-v2", mirrored=mirrored, errors=errors, compared=compared, agreed=agreed)
    return Observation(source="Pods", versions={"churn-v1": stable, "churn-v2": cand},
                       shadow={"churn-v2": shadow}, scraped=8, seconds=30.0)


def test_a_new_version_shadows_at_full_scale_outside_service_d_with_the_stable_mirroring_to_it() -> None:
    p = run(_shadow(), versions=VERSIONS, deployments=[deployment("churn-churn-v1", "churn-v1", replicas=4,
                                                                  available=4)],
            services=[service("churn", "churn-v1")])
    candidate = applied(p, "Deployment", "churn-churn-v2")
    stable = applied(p, "Deployment", "churn-churn-v1")
    assert candidate["spec"]["replicas"] == 4  # spec.replicas: it answers the mirrored share at full scale
    assert stable["spec"]["replicas"] == 4
    assert _serve_args(stable)[-6:] == FLAGS  # exactly the flags `modelops serve` takes
    assert not any(a.startswith("--shadow") for a in _serve_args(candidate))  # a candidate never mirrors on
    # Users only ever get stable's answers: Service D's selector does not match the candidate's pods.
    selector = applied(p, "Service", "churn")["spec"]["selector"]
    pod_labels = candidate["spec"]["template"]["metadata"]["labels"]
    assert selector == {"app.kubernetes.io/instance": "churn", "modelops.dev/version": "churn-v1"}
    assert not all(pod_labels.get(k) == v for k, v in selector.items())
    # The mirror's target: the candidate's own Service (a name known before its pods exist).
    assert applied(p, "Service", "churn-churn-v2")["spec"]["selector"] == {
        "app.kubernetes.io/instance": "churn", "modelops.dev/version": "churn-v2"}
    assert (p.status["phase"], p.status["step"], p.status["weight"]) == ("Progressing", 0, 0)
    assert cond(p, "Progressing") == ("True", "RollingOut")
    assert cond(p, "Ready") == ("False", "RollingOut")
    assert "users get churn-v1's answers only" in message(p, "Ready")
    assert any(e.reason == "RolloutStarted" and "(Shadow)" in e.message for e in p.events)


def test_analysis_waits_for_the_candidate_pods_and_for_the_stable_pods_to_mirror() -> None:
    status = _shadowing()
    not_mirroring = Observed.from_objects(UID, VERSIONS, _children(mirroring=False))
    assert analysis_due(_shadow(status), not_mirroring, image="i", now=NOW) is None
    p = run(_shadow(status), versions=VERSIONS, deployments=_children(mirroring=False))
    assert "waiting for churn-v1's pods to mirror (50% of live requests mirrored)" in message(p, "Progressing")
    assert _serve_args(applied(p, "Deployment", "churn-churn-v1"))[-6:] == FLAGS
    unready = Observed.from_objects(UID, VERSIONS, _children(candidate_ready=3))
    assert analysis_due(_shadow(status), unready, image="i", now=NOW) is None
    ready = Observed.from_objects(UID, VERSIONS, _children())
    due = analysis_due(_shadow(status), ready, image="i", now=NOW)
    assert due is not None
    assert (due.stable, due.candidate, due.interval) == ("churn-v1", "churn-v2", timedelta(seconds=30))
    recent = _shadowing(lastAnalysisAt="2026-11-30T11:59:50Z", stepVerdict="Inconclusive")
    assert analysis_due(_shadow(recent), ready, image="i", now=NOW) is None
    assert analysis_due(_shadow(recent), ready, image="i", now=_at(20)) is not None


def test_good_agreement_with_then_promote_promotes_and_the_old_stable_retires() -> None:
    p = run(_shadow(_shadowing()), versions=VERSIONS, deployments=_children(), observation=_observation())
    assert (p.status["phase"], p.status["stable"], p.status.get("candidate"), p.status["weight"]) == (
        "Stable", "churn-v2", None, 100)
    verdicts = {r["metric"]: (r["verdict"], r["value"]) for r in p.status["analysis"]}
    assert verdicts["agreement"] == ("Pass", 0.995)
    assert {v for v, _ in verdicts.values()} == {"Pass"}
    assert set(verdicts) == {"errorRate", "latencyP99Ratio", "predictionPSI", "agreement", "shadowErrorRate"}
    history = p.status["history"][-1]
    assert (history["version"], history["result"]) == ("churn-v2", "Promoted")
    assert "shadow analysis passed" in history["reason"]
    assert "1990 of 2000 rows" in history["reason"]
    assert p.status["retiring"] == [{"version": "churn-v1", "deleteAfter": "2026-11-30T12:02:00Z"}]
    assert applied(p, "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    assert not any(a.startswith("--shadow") for a in _serve_args(applied(p, "Deployment", "churn-churn-v2")))
    assert ("Deployment", "churn-churn-v1") not in [(c["kind"], c["metadata"]["name"]) for c in p.apply]
    assert p.delete == ()
    assert {e.reason for e in p.events} >= {"AnalysisPass", "ShadowPassed", "Promoted"}


def test_good_agreement_with_then_canary_continues_at_the_first_canary_step_without_the_mirror() -> None:
    p = run(_shadow(_shadowing(), then="Canary"), versions=VERSIONS, deployments=_children(then="Canary"),
            observation=_observation(), services=[service("churn", "churn-v1")])
    assert (p.status["phase"], p.status["candidate"], p.status["step"]) == ("Progressing", "churn-v2", 1)
    assert p.status["stepStartedAt"] == "2026-11-30T12:00:00Z"
    assert "stepVerdict" not in p.status  # the canary step needs its own passing analysis
    assert p.status["lastAnalysisAt"] == "2026-11-30T12:00:00Z"
    assert {r["metric"] for r in p.status["analysis"]} >= {"agreement"}  # the shadow's figures stay readable
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 1  # 20% of 4
    assert _serve_args(applied(p, "Deployment", "churn-churn-v1"))[-6:] != FLAGS
    assert not any(a.startswith("--shadow") for a in _serve_args(applied(p, "Deployment", "churn-churn-v1")))
    assert applied(p, "Service", "churn")["spec"]["selector"] == {"app.kubernetes.io/instance": "churn",
                                                                  "modelops.dev/version": None}
    assert any(e.reason == "ShadowPassed" and "continuing as a canary over 2 step(s)" in e.message
               for e in p.events)
    assert "step 1/2, weight 20%" in message(p, "Progressing")


def _canary_children(candidate_replicas: int, ready: int) -> list[dict[str, Any]]:
    return [deployment("churn-churn-v1", "churn-v1", replicas=4, available=4),
            deployment("churn-churn-v2", "churn-v2", replicas=candidate_replicas, available=ready)]


def test_after_the_shadow_the_canary_steps_advance_and_promote() -> None:
    status = _shadowing(step=1, stepVerdict="Pass", lastAnalysisAt="2026-11-30T11:59:50Z", weight=20)
    p = run(_shadow(status, then="Canary"), versions=VERSIONS, deployments=_canary_children(1, 1))
    assert p.status["step"] == 2  # canary step 2/2
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert any(e.reason == "StepPassed" and "step 1/2" in e.message for e in p.events)
    # the canary's own analysis runs at its steps (accuracy included, shadow metrics not)
    due = analysis_due(_shadow(_shadowing(step=2, weight=33), then="Canary"),
                       Observed.from_objects(UID, VERSIONS, _canary_children(2, 2)), image="i", now=NOW)
    assert due is not None
    last = _shadowing(step=3, stepVerdict="Pass", weight=33)
    p = run(_shadow(last, then="Canary"), versions=VERSIONS, deployments=_canary_children(4, 4))
    assert (p.status["phase"], p.status["stable"]) == ("Stable", "churn-v2")
    assert "all 2 steps passed" in p.status["history"][-1]["reason"]


def test_disagreement_rolls_back_with_its_figures_the_candidate_at_zero_and_the_mirror_off() -> None:
    p = run(_shadow(_shadowing()), versions=VERSIONS, deployments=_children(), services=[service("churn", "churn-v1")],
            observation=_observation(agreed=1500))
    assert (p.status["phase"], p.status["stable"], p.status.get("candidate")) == ("RolledBack", "churn-v1", None)
    assert cond(p, "Progressing") == ("False", "AnalysisFailed")
    assert ("agreement failed in shadow (candidate agreed with stable on 1500 of 2000 rows (0.7500, min 0.95)); "
            "1 failed analysis(es)") in message(p, "Progressing")
    assert {"metric": "agreement", "value": 0.75, "threshold": 0.95, "samples": 2000, "verdict": "Fail",
            "time": "2026-11-30T12:00:00Z"} in p.status["analysis"]
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0
    assert not any(a.startswith("--shadow") for a in _serve_args(applied(p, "Deployment", "churn-churn-v1")))
    assert applied(p, "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
    rolled = [e for e in p.events if e.reason == "RolledBack"]
    assert rolled
    assert rolled[0].type == "Warning"
    assert "1500 of 2000" in rolled[0].message
    # not retried on the next reconcile, and the mirror stays off
    again = run(_shadow(dict(p.status)), versions=VERSIONS, deployments=_children())
    assert again.status["phase"] == "RolledBack"
    assert applied(again, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0
    assert not any(a.startswith("--shadow") for a in _serve_args(applied(again, "Deployment", "churn-churn-v1")))
    assert status_patch(p.status, again.status) == {}


def test_candidate_errors_roll_back_on_its_own_5xx_and_on_failed_mirrored_requests() -> None:
    own = run(_shadow(_shadowing()), versions=VERSIONS, deployments=_children(),
              observation=_observation(candidate=sample("churn-v2", errors=30)))
    assert own.status["phase"] == "RolledBack"
    assert "errorRate failed in shadow (30 of 1000 candidate requests failed (3%, limit 1%))" in message(
        own, "Progressing")
    mirrored = run(_shadow(_shadowing()), versions=VERSIONS, deployments=_children(),
                   observation=_observation(errors=50))
    assert mirrored.status["phase"] == "RolledBack"
    assert "shadowErrorRate failed in shadow (50 of 1000 mirrored requests failed (5%, limit 1%))" in message(
        mirrored, "Progressing")


def test_too_few_compared_rows_are_inconclusive_never_a_pass_then_paused_until_an_action() -> None:
    p = run(_shadow(_shadowing()), versions=VERSIONS, deployments=_children(),
            observation=_observation(compared=500, agreed=500))
    assert (p.status["phase"], p.status["stepVerdict"], p.status["step"]) == ("Progressing", "Inconclusive", 0)
    assert p.status.get("candidate") == "churn-v2"
    agreement = next(r for r in p.status["analysis"] if r["metric"] == "agreement")
    assert (agreement["verdict"], agreement["samples"]) == ("Inconclusive", 500)
    late = _shadowing(stepStartedAt="2026-11-30T11:54:00Z", stepVerdict="Inconclusive",
                      lastAnalysisAt="2026-11-30T11:59:40Z")
    paused = run(_shadow(late), versions=VERSIONS, deployments=_children())
    assert (paused.status["phase"], cond(paused, "Progressing")) == ("Paused", ("False", "InsufficientData"))
    assert "shadow.minSamples 1000 compared rows" in message(paused, "Progressing")
    assert _serve_args(applied(paused, "Deployment", "churn-churn-v1"))[-6:] == FLAGS  # still mirroring
    observed = Observed.from_objects(UID, VERSIONS, _children())
    assert analysis_due(_shadow(late), observed, image="i", now=_at(600)) is None
    promoted = run(_shadow(late, annotations={"modelops.dev/action": "promote"}), versions=VERSIONS,
                   deployments=_children())
    assert (promoted.status["phase"], promoted.status["stable"]) == ("Stable", "churn-v2")
    assert "promote action" in promoted.status["history"][-1]["reason"]
    aborted = run(_shadow(late, annotations={"modelops.dev/action": "abort"}), versions=VERSIONS,
                  deployments=_children())
    assert (aborted.status["phase"], cond(aborted, "Progressing")) == ("RolledBack", ("False", "Aborted"))
    assert not any(a.startswith("--shadow") for a in _serve_args(applied(aborted, "Deployment", "churn-churn-v1")))


def test_a_promote_action_in_shadow_with_then_canary_skips_the_canary_steps() -> None:
    p = run(_shadow(_shadowing(), then="Canary", annotations={"modelops.dev/action": "promote"}), versions=VERSIONS,
            deployments=_children(then="Canary"))
    assert (p.status["phase"], p.status["stable"]) == ("Stable", "churn-v2")
    assert "promote action" in p.status["history"][-1]["reason"]


def test_spec_paused_holds_the_shadow_mirroring_and_restarts_its_clock_when_unpaused() -> None:
    late = _shadowing(stepStartedAt="2026-11-30T11:54:00Z", stepVerdict="Inconclusive")
    obj = _shadow(late)
    obj["spec"]["paused"] = True
    p = run(obj, versions=VERSIONS, deployments=_children())
    assert (p.status["phase"], cond(p, "Progressing")) == ("Paused", ("False", "Paused"))
    assert "stepStartedAt" not in p.status
    assert _serve_args(applied(p, "Deployment", "churn-churn-v1"))[-6:] == FLAGS
    assert analysis_due(obj, Observed.from_objects(UID, VERSIONS, _children()), image="i", now=NOW) is None
    resumed = run(_shadow(dict(p.status)), versions=VERSIONS, deployments=_children())
    assert (resumed.status["phase"], resumed.status["stepStartedAt"]) == ("Progressing", "2026-11-30T12:00:00Z")


def test_candidate_pods_not_available_by_the_deadline_roll_back() -> None:
    late = _shadowing(stepStartedAt="2026-11-30T11:54:00Z")
    p = run(_shadow(late), versions=VERSIONS, deployments=_children(candidate_ready=2))
    assert (p.status["phase"], cond(p, "Progressing")) == ("RolledBack", ("False", "ProgressDeadlineExceeded"))
    assert "2/4 replicas available after progressDeadline 5m in shadow" in message(p, "Progressing")


def test_a_restart_resumes_the_shadow_without_writing_starting_or_analysing_again() -> None:
    status = _shadowing(stepVerdict="Inconclusive", lastAnalysisAt="2026-11-30T11:59:50Z")
    first = run(_shadow(status), versions=VERSIONS, deployments=_children())
    again = run(_shadow(dict(first.status)), versions=VERSIONS, deployments=_children(), now=_at(5))
    assert status_patch(first.status, again.status) == {}
    assert first.apply == again.apply  # the same children, the same stable flags
    assert first.status["stepStartedAt"] == STARTED
    assert not any(e.reason == "RolloutStarted" for e in [*first.events, *again.events])
    assert analysis_due(_shadow(dict(first.status)), Observed.from_objects(UID, VERSIONS, _children()), image="i",
                        now=_at(5)) is None


def test_then_canary_without_canary_steps_is_invalid_and_the_stable_keeps_serving() -> None:
    obj = model_deployment(version="churn-v2", replicas=4, strategy={"type": "Shadow"}, status=stable_status())
    p = run(obj, versions=VERSIONS, deployments=[deployment("churn-churn-v1", "churn-v1", replicas=4, available=4)])
    assert cond(p, "Ready") == ("False", "InvalidSpec")
    assert message(p, "Ready").startswith("spec.strategy.canary.steps: required when spec.strategy.type is Shadow")
    assert p.apply == ()
    ok = model_deployment(version="churn-v2", replicas=4, strategy={"type": "Shadow", "shadow": {"then": "Promote"}},
                          status=stable_status())
    p = run(ok, versions=VERSIONS, deployments=[deployment("churn-churn-v1", "churn-v1", replicas=4, available=4)])
    assert p.status["candidate"] == "churn-v2"
    assert _serve_args(applied(p, "Deployment", "churn-churn-v1"))[-6:] == [
        "--shadow-url", "http://churn-churn-v2.default.svc:8080", "--shadow-percent", "100",
        "--shadow-version", "churn-v2"]


def test_only_the_replicas_router_puts_the_mirror_in_the_pods() -> None:
    owner = children.Owner("churn", "prod", "u")
    spec = ModelDeploymentSpec.model_validate({"model": "churn", "version": "churn-v1"})
    assert children.shadow_mirror(owner, spec, "churn-v2", 10) == children.Mirror(
        "http://churn-churn-v2.prod.svc:8080", 10, "churn-v2")
    gateway = spec.model_copy(update={"router": "GatewayAPI"})
    assert children.shadow_mirror(owner, gateway, "churn-v2", 10) is None


def test_the_agreement_threshold_is_read_from_the_spec() -> None:
    strategy = Strategy.model_validate({"type": "Shadow", "shadow": {"then": "Promote"},
                                        "analysis": {"minAgreement": 0.97}})
    assert Thresholds.from_spec(strategy).min_agreement == 0.97
    assert Thresholds.from_spec(Strategy.model_validate({"type": "Shadow"})).shadow_min_samples == 1000
    assert Analysis().min_agreement == DEFAULT_MIN_AGREEMENT

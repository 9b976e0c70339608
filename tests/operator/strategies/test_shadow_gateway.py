"""Shadow under router GatewayAPI: the HTTPRoute mirrors, nobody compares answers; the candidate is
judged on its own pods' figures and agreement is recorded NotMeasured (seeded status in, plan out)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelops.operator.analysis.samples import VersionSample
from modelops.operator.analysis.sources import Observation
from modelops.operator.analysis.verdicts import AGREEMENT, ERROR_RATE, MetricResult, decide, not_measured
from modelops.operator.modeldeployment.routes import backend_weights
from modelops.operator.plans import Plan
from tests.operator.objects import deployment, model_deployment, model_version

from .support import NOW, applied, cond, message, run, sample, stable_status

VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]
GATEWAY = {"parentRefs": [{"name": "public"}]}
STRATEGY: dict[str, Any] = {
    "type": "Shadow",
    "shadow": {"mirrorPercent": 50, "minSamples": 500, "then": "Promote"},
    "analysis": {"interval": "30s", "minSamples": 100, "failureLimit": 1, "minAgreement": 0.95},
    "progressDeadline": "5m",
    "scaleDownDelay": "2m",
}
STARTED = "2026-11-30T11:59:00Z"


def _shadow(status: dict[str, Any]) -> dict[str, Any]:
    return model_deployment(version="churn-v2", replicas=4, strategy=STRATEGY, router="GatewayAPI", gateway=GATEWAY,
                            status=status)


def _shadowing(**extra: Any) -> dict[str, Any]:
    return stable_status(**{"phase": "Progressing", "candidate": "churn-v2", "step": 0, "weight": 0,
                            "stepStartedAt": STARTED, **extra})


def _children() -> list[dict[str, Any]]:
    # no mirror flags on the stable pods: the gateway mirrors
    return [deployment("churn-churn-v1", "churn-v1", replicas=4, available=4),
            deployment("churn-churn-v2", "churn-v2", replicas=4, available=4)]


def _observation(candidate: VersionSample) -> Observation:
    # no shadow sample at all: no stable pod compares anything under a gateway's mirror
    return Observation(source="Pods", versions={"churn-v1": sample("churn-v1"), "churn-v2": candidate},
                       scraped=8, seconds=30.0)


def _run(candidate: VersionSample, status: dict[str, Any] | None = None) -> Plan:
    return run(_shadow(status or _shadowing()), versions=VERSIONS, deployments=_children(),
               observation=_observation(candidate))


def _verdicts(p: Plan) -> dict[str, tuple[str, int]]:
    return {r["metric"]: (r["verdict"], r["samples"]) for r in p.status["analysis"]}


def test_the_candidates_own_good_figures_promote_and_agreement_is_recorded_not_measured() -> None:
    p = _run(sample("churn-v2"))
    assert (p.status["phase"], p.status["stable"]) == ("Stable", "churn-v2")
    assert _verdicts(p) == {"errorRate": ("Pass", 1000), "latencyP99Ratio": ("Pass", 1000),
                            "predictionPSI": ("Pass", 1000), "agreement": ("NotMeasured", 0),
                            "shadowErrorRate": ("NotMeasured", 0)}
    passed = next(e for e in p.events if e.reason == "ShadowPassed")
    assert "agreement NotMeasured: not measured under router GatewayAPI" in passed.message
    assert "not measured under router GatewayAPI" in p.status["history"][-1]["reason"]


def test_candidate_errors_roll_back_and_the_route_sends_stable_everything_without_a_mirror() -> None:
    p = _run(sample("churn-v2", errors=30))
    assert (p.status["phase"], cond(p, "Progressing")) == ("RolledBack", ("False", "AnalysisFailed"))
    assert "errorRate failed in shadow (30 of 1000 candidate requests failed" in message(p, "Progressing")
    route = applied(p, "HTTPRoute", "churn")
    assert backend_weights(route) == {"churn-churn-v1": 100}
    assert "RequestMirror" not in str(route["spec"])


def test_shadow_min_samples_counts_the_candidates_own_answered_requests() -> None:
    # 300 requests pass analysis.minSamples (100) but not shadow.minSamples (500): Inconclusive, never a pass
    p = _run(sample("churn-v2", requests=300))
    assert (p.status["phase"], p.status["stepVerdict"]) == ("Progressing", "Inconclusive")
    assert _verdicts(p)["errorRate"] == ("Inconclusive", 300)
    assert "agreement not measured (router GatewayAPI" in message(p, "Progressing")
    late = _shadowing(stepStartedAt="2026-11-30T11:54:00Z", stepVerdict="Inconclusive",
                      lastAnalysisAt="2026-11-30T11:59:40Z")
    paused = run(_shadow(late), versions=VERSIONS, deployments=_children())
    assert cond(paused, "Progressing") == ("False", "InsufficientData")
    assert "shadow.minSamples 500 candidate requests answered" in message(paused, "Progressing")


def test_a_not_measured_metric_takes_no_part_in_the_decision_and_alone_is_never_a_pass() -> None:
    missing = not_measured(AGREEMENT, 0.9, NOW, "not measured")
    assert (missing.verdict, missing.value, missing.samples) == ("NotMeasured", None, 0)
    passed = MetricResult(ERROR_RATE, 0.0, 1.0, 500, "Pass", "t", "ok")
    assert decide([passed, missing]) == "Pass"
    assert decide([missing]) == "Inconclusive"
    assert decide([replace(passed, verdict="Fail"), missing]) == "Fail"

"""ABTest: a fixed split, running counts per arm in status, the z-test's verdict (seeded status in, plan out)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import stats

from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import analysis_due
from tests.operator.objects import UID, deployment, model_deployment, model_version
from tests.operator.strategies.support import NOW, applied, cond, observation, run, sample, stable_status

VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]
STRATEGY: dict[str, Any] = {
    "type": "ABTest",
    "abTest": {"weight": 50, "minSamples": 1000, "minDuration": "10m", "metric": "accuracy", "confidence": 0.95},
    "analysis": {"interval": "1m"},
    "progressDeadline": "5m",
}


def _ab(status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return model_deployment(version="churn-v2", replicas=4, strategy=STRATEGY, annotations=annotations,
                            status=status or stable_status())


def _testing(started: str = "2026-11-30T11:55:00Z", **extra: Any) -> dict[str, Any]:
    return stable_status(**{"phase": "Progressing", "candidate": "churn-v2", "step": 0, "stepStartedAt": started,
                            **extra})


def _counts(stable: tuple[int, int], candidate: tuple[int, int]) -> dict[str, Any]:
    return {"samples": {"stable": stable[1], "candidate": candidate[1]},
            "successes": {"stable": stable[0], "candidate": candidate[0]}}


def _children(candidate_replicas: int = 2, ready: int = 2) -> list[dict[str, Any]]:
    return [deployment("churn-churn-v1", "churn-v1", replicas=4, available=4),
            deployment("churn-churn-v2", "churn-v2", replicas=candidate_replicas, available=ready)]


def _scipy(stable: tuple[int, int], candidate: tuple[int, int]) -> tuple[float, float]:
    """|z| and p from scipy's chi-square test of the 2x2 table (no continuity correction)."""
    table = [[stable[0], stable[1] - stable[0]], [candidate[0], candidate[1] - candidate[0]]]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return math.sqrt(chi2), p


def test_the_split_is_fixed_and_the_counts_start_at_zero() -> None:
    p = run(_ab(), versions=VERSIONS, deployments=_children()[:1])
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert p.status["abTest"]["samples"] == {"stable": 0, "candidate": 0}
    assert p.status["step"] == 0


def test_each_interval_adds_to_the_running_counts_in_status() -> None:
    status = _testing(abTest=_counts((400, 500), (420, 500)))
    obs = observation(sample("churn-v1", labelled=100, correct=80), sample("churn-v2", labelled=100, correct=85))
    p = run(_ab(status), versions=VERSIONS, deployments=_children(), observation=obs)
    assert p.status["abTest"]["samples"] == {"stable": 600, "candidate": 600}
    assert p.status["abTest"]["successes"] == {"stable": 480, "candidate": 505}
    assert p.status["lastAnalysisAt"] == "2026-11-30T12:00:00Z"
    assert p.status["phase"] == "Progressing"  # below minSamples: the test goes on


def test_analysis_is_due_every_interval_while_testing() -> None:
    observed = Observed.from_objects(UID, VERSIONS, _children())
    assert analysis_due(_ab(_testing()), observed, image="i", now=NOW) is not None
    recent = _testing(lastAnalysisAt="2026-11-30T11:59:30Z")
    assert analysis_due(_ab(recent), observed, image="i", now=NOW) is None


def test_a_significant_result_waits_for_min_duration() -> None:
    status = _testing(started="2026-11-30T11:55:00Z", abTest=_counts((800, 1000), (900, 1000)))
    p = run(_ab(status), versions=VERSIONS, deployments=_children())
    assert (p.status["phase"], p.status["step"], p.status["abTest"].get("winner")) == ("Progressing", 0, None)


def test_the_candidate_wins_with_scipys_statistic_and_p_value_then_is_promoted() -> None:
    stable, candidate = (800, 1000), (860, 1000)
    status = _testing(started="2026-11-30T11:40:00Z", abTest=_counts(stable, candidate))
    p = run(_ab(status), versions=VERSIONS, deployments=_children())
    z, pvalue = _scipy(stable, candidate)
    ab = p.status["abTest"]
    assert ab["winner"] == "churn-v2"
    assert ab["statistic"] == pytest.approx(z, rel=1e-5)
    assert ab["pValue"] == pytest.approx(pvalue, rel=1e-5)
    assert p.status["step"] == 1
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 4
    done = run(_ab(dict(p.status)), versions=VERSIONS, deployments=_children(4, 4))
    assert (done.status["stable"], done.status["phase"]) == ("churn-v2", "Stable")
    assert "won the A/B test" in done.status["history"][-1]["reason"]


@pytest.mark.parametrize(("candidate", "reason"), [((700, 1000), "StableWins"), ((805, 1000), "NoDifference")])
def test_a_candidate_that_does_not_win_is_removed_and_history_says_why(
    candidate: tuple[int, int], reason: str
) -> None:
    status = _testing(started="2026-11-30T11:40:00Z", abTest=_counts((800, 1000), candidate))
    p = run(_ab(status), versions=VERSIONS, deployments=_children())
    assert (p.status["phase"], p.status["stable"], p.status.get("candidate")) == ("Stable", "churn-v1", None)
    assert cond(p, "Progressing") == ("False", reason)
    assert ("Deployment", "churn-churn-v2", "uid-deployment-churn-churn-v2") in p.delete
    assert "churn-v1 kept" in p.status["history"][-1]["reason"]
    assert any(e.reason == "StableKept" for e in p.events)
    again = run(_ab(dict(p.status)), versions=VERSIONS, deployments=_children()[:1])
    assert (again.status["phase"], again.status.get("candidate")) == ("Stable", None)  # not tried again
    assert cond(again, "Ready") == ("True", "Available")


def test_too_few_samples_past_min_duration_and_the_deadline_pause_it() -> None:
    status = _testing(started="2026-11-30T11:40:00Z", abTest=_counts((50, 100), (60, 100)))
    p = run(_ab(status), versions=VERSIONS, deployments=_children())
    assert (p.status["phase"], cond(p, "Progressing")) == ("Paused", ("False", "InsufficientData"))

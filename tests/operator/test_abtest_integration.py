"""ABTest end to end against the emulator (fake serving pods with controllable feedback counts):
the better candidate wins with scipy's statistic and p-value, and a restart mid-test keeps the counts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import stats

from modelops.emulator.testing import EmulatorHandle
from tests.operator.canary_cluster import Replicas
from tests.operator.conftest import Artifact
from tests.operator.harness import MV_API, create_versions, has_condition, model_deployment, running_operator, status_of

pytestmark = pytest.mark.integration

STRATEGY: dict[str, Any] = {
    "type": "ABTest",
    "abTest": {"weight": 50, "minSamples": 300, "minDuration": "2s", "metric": "accuracy", "confidence": 0.95},
    "analysis": {"interval": "1s"},
    "progressDeadline": "30s",
    "scaleDownDelay": "0s",
}


def _feedback(version: str) -> dict[str, Any]:
    """Labelled answers: churn-v2 right 9 times in 10, churn-v1 7."""
    return {"ok": 10, "outputs": (5, 5, 0), "labelled": 10, "correct": 9 if version == "churn-v2" else 7}


def test_the_better_candidate_wins_with_scipys_figures_across_a_restart(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    replicas.traffic = _feedback
    create_versions(k8s, artifacts)
    k8s.create(model_deployment("churn-v1", strategy=STRATEGY))
    with running_operator(k8s):
        replicas.until(lambda o: has_condition(o, "Ready", "True"), "churn-v1 stable")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        first = replicas.until(lambda o: (status_of(o).get("abTest") or {}).get("samples", {}).get("candidate", 0) > 0,
                               "the first counts")
        before = status_of(first)
    with running_operator(k8s):
        seen: list[int] = []

        def promoted(o: dict[str, Any]) -> bool:
            s = status_of(o)
            if s.get("candidate") == "churn-v2":
                seen.append(int(s["abTest"]["samples"]["candidate"]))
            return s.get("stable") == "churn-v2"

        done = status_of(replicas.until(promoted, "churn-v2 promoted"))
    assert min(seen) >= before["abTest"]["samples"]["candidate"]  # the restart kept the running counts
    ab = done["abTest"]
    assert ab["winner"] == "churn-v2"
    s = (ab["successes"]["stable"], ab["samples"]["stable"])
    c = (ab["successes"]["candidate"], ab["samples"]["candidate"])
    assert min(s[1], c[1]) >= 300
    chi2, p, _, _ = stats.chi2_contingency([[s[0], s[1] - s[0]], [c[0], c[1] - c[0]]], correction=False)
    assert ab["statistic"] == pytest.approx(math.sqrt(chi2), rel=1e-5)  # candidate higher: z > 0
    assert ab["pValue"] == pytest.approx(p, rel=1e-5, abs=1e-300)
    assert "won the A/B test" in done["history"][-1]["reason"]

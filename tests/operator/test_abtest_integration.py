"""ABTest end to end against the emulator (fake serving pods with controllable feedback counts):
the better candidate wins with scipy's statistic and p-value, and a restart mid-test keeps the counts."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from scipy import stats

from modelops.emulator.testing import EmulatorHandle
from tests.operator.canary_cluster import Replicas, serving_replicas
from tests.operator.conftest import Artifact
from tests.operator.harness import MV_API, has_condition, model_deployment, model_version, running_operator, wait_for

pytestmark = pytest.mark.integration

STRATEGY: dict[str, Any] = {
    "type": "ABTest",
    "abTest": {"weight": 50, "minSamples": 300, "minDuration": "2s", "metric": "accuracy", "confidence": 0.95},
    "analysis": {"interval": "1s"},
    "progressDeadline": "30s",
    "scaleDownDelay": "0s",
}


@pytest.fixture
def replicas(k8s: EmulatorHandle) -> Iterator[Replicas]:
    with serving_replicas(k8s) as r:
        r.traffic = lambda v: {"ok": 10, "outputs": (5, 5, 0), "labelled": 10,
                               "correct": 9 if v == "churn-v2" else 7}
        yield r


def _status(k8s: EmulatorHandle) -> dict[str, Any]:
    return dict(k8s.get(MV_API, "ModelDeployment", "churn").get("status") or {})


def _until(replicas: Replicas, check: Any, what: str) -> dict[str, Any]:
    def look() -> dict[str, Any] | None:
        replicas.tick()
        status = _status(replicas.k8s)
        return status if check(status) else None

    return wait_for(look, what, 40.0)


def test_the_better_candidate_wins_with_scipys_figures_across_a_restart(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_version("churn-v2", v2.uri, v2.sha256))
    k8s.create(model_deployment("churn-v1", strategy=STRATEGY))
    with running_operator(k8s):
        _until(replicas, lambda s: has_condition({"status": s}, "Ready", "True"), "churn-v1 stable")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        before = _until(replicas, lambda s: (s.get("abTest") or {}).get("samples", {}).get("candidate", 0) > 0,
                        "the first counts")
    with running_operator(k8s):
        seen: list[int] = []

        def promoted(s: dict[str, Any]) -> bool:
            if s.get("candidate") == "churn-v2":
                seen.append(int(s["abTest"]["samples"]["candidate"]))
            return s.get("stable") == "churn-v2"

        done = _until(replicas, promoted, "churn-v2 promoted")
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

"""Canary end to end against the emulator: the real operator, the test playing the Deployment
controller and serving the replicas' metrics (fake pods on 127.0.0.1) with controllable values.

Given v1 stable under a Canary strategy (1 s analysis interval, short pauses),
when spec.version names v2 and its replicas serve what the test says,
then v2 is promoted on good metrics, or rolled back on each bad metric with its figures,
or held Inconclusive and then Paused (InsufficientData) until an action says otherwise; and
an operator restarted at every step resumes that step.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .canary_cluster import CANARY, Replicas, good_traffic, restarted_at_every_step, rolled_back, stable_v1
from .conftest import Artifact
from .harness import MV_API, condition, event_messages, get_mdep, has_condition, running_operator, status_of, wait_for

pytestmark = pytest.mark.integration


def test_good_metrics_walk_the_steps_and_promote(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        stable_v1(replicas, artifacts, CANARY)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        first = replicas.until(lambda o: status_of(o).get("weight") == 33, "step 1: 1 of 3 ready pods is v2")
        assert (status_of(first)["step"], status_of(first)["candidate"]) == (0, "churn-v2")
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"] == {"app.kubernetes.io/instance": "churn"}
        assert replicas.versions() == {"churn-v1": 2, "churn-v2": 1}
        weights: set[int] = set()

        def promoted(o: dict[str, Any]) -> bool:
            weights.add(int(status_of(o).get("weight") or 0))
            return status_of(o).get("stable") == "churn-v2"

        done = replicas.until(promoted, "churn-v2 promoted")
        # the operator removes v1 and posts the Event after the status write: wait while it runs
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1") is None, "churn-v1 removed")
        wait_for(lambda: event_messages(k8s, "Promoted"), "a Promoted Event")
    status = status_of(done)
    assert status["phase"] == "Stable"
    assert [h["version"] for h in status["history"]][-1] == "churn-v2"
    assert "all 2 steps passed" in status["history"][-1]["reason"]
    assert {r["verdict"] for r in status["analysis"]} == {"Pass"}  # the last step's figures stay readable
    assert 33 in weights  # (the 50% step also gives v2 1 of 3 pods with 2 replicas)
    assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    assert event_messages(k8s, "StepPassed")
    assert any("errorRate Pass" in m for m in event_messages(k8s, "AnalysisPass"))


BAD: dict[str, tuple[str, dict[str, Any]]] = {
    "errorRate": ("errorRate", {"ok": 18, "errors": 2, "outputs": (10, 10, 0)}),
    "latency": ("latencyP99Ratio", {"ok": 20, "seconds": 0.2, "outputs": (10, 10, 0)}),
    "accuracy": ("accuracyDrop", {"ok": 20, "outputs": (10, 10, 0), "labelled": 10, "correct": 5}),
    "psi": ("predictionPSI", {"ok": 20, "outputs": (2, 3, 15)}),
}


@pytest.mark.parametrize("bad", sorted(BAD))
def test_each_bad_metric_rolls_back_with_its_figures(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact], bad: str
) -> None:
    metric, candidate_traffic = BAD[bad]

    def traffic(version: str) -> dict[str, Any]:
        if version == "churn-v2":
            return candidate_traffic
        labels = {"labelled": 10, "correct": 10} if bad == "accuracy" else {}
        return {**good_traffic(version), **labels}

    replicas.traffic = traffic
    with running_operator(k8s):
        stable_v1(replicas, artifacts, CANARY)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        done = rolled_back(replicas, f"rolled back on {metric}")
        status = status_of(done)
        assert f"{metric} failed at step 1/2" in (condition(done, "Progressing") or {})["message"]
        assert status["history"][-1]["result"] == "RolledBack"
        assert any(r["metric"] == metric and r["verdict"] == "Fail" for r in status["analysis"])
        # traffic back to stable at once, the candidate scaled to zero
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
        wait_for(lambda: k8s.get("apps/v1", "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0, "v2 at 0")
        wait_for(lambda: any(metric in m for m in event_messages(k8s, "RolledBack")),
                 "a RolledBack Event with the metric")
        # not retried: the next reconciles leave it rolled back
        time.sleep(1.5)
        replicas.tick()
        assert status_of(get_mdep(k8s))["phase"] == "RolledBack"
        assert k8s.get("apps/v1", "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0


def test_too_few_samples_hold_the_step_then_pause_until_promoted(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    replicas.traffic = lambda _v: {"ok": 1, "outputs": (1, 0, 0)}  # far below minSamples per interval
    with running_operator(k8s):
        stable_v1(replicas, artifacts, {**CANARY, "progressDeadline": "4s"})
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        held = replicas.until(lambda o: status_of(o).get("stepVerdict") == "Inconclusive", "inconclusive")
        assert status_of(held)["step"] == 0
        paused = replicas.until(lambda o: status_of(o).get("phase") == "Paused", "paused")
        assert has_condition(paused, "Progressing", "False", "InsufficientData")
        assert status_of(paused)["candidate"] == "churn-v2"
        k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {"modelops.dev/action": "promote"}}})
        done = replicas.until(lambda o: status_of(o).get("stable") == "churn-v2", "promoted by the action")
        assert "modelops.dev/action" not in (done["metadata"].get("annotations") or {})
        assert "promote action" in status_of(done)["history"][-1]["reason"]


def test_the_abort_action_rolls_back_and_retry_starts_again(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        stable_v1(replicas, artifacts, {**CANARY, "canary": {"steps": [{"weight": 20, "pause": "1h"}]}})
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        replicas.until(lambda o: status_of(o).get("stepVerdict") == "Pass", "a passing analysis")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {"modelops.dev/action": "abort"}}})
        aborted = replicas.until(lambda o: status_of(o).get("phase") == "RolledBack", "aborted")
        assert has_condition(aborted, "Progressing", "False", "Aborted")
        wait_for(lambda: "modelops.dev/action" not in (get_mdep(k8s)["metadata"].get("annotations") or {}),
                 "the abort action removed")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {"modelops.dev/action": "retry"}}})
        again = replicas.until(lambda o: status_of(o).get("candidate") == "churn-v2", "retried")
        assert status_of(again)["step"] == 0


def test_an_operator_restarted_at_every_step_resumes_it(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        stable_v1(replicas, artifacts, CANARY)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        replicas.until(lambda o: status_of(o).get("step") == 0 and bool(status_of(o).get("lastAnalysisAt")),
                       "step 1 analysed")
    replicas.cap["churn-v2"] = 1  # the promotion stage (2 replicas) holds until released below

    def prepare(step: int) -> None:
        if step == 2:
            replicas.cap.clear()

    restarts = 0
    for restart in restarted_at_every_step(replicas, prepare):
        restarts += 1
        # While the step held, the fresh operator kept its weight (and, checked by
        # restarted_at_every_step, its start and its analysis record).
        assert all(s.get("weight") == restart.before.get("weight") for s in restart.same_step)
    assert restarts >= 3  # steps 1 and 2 and the promotion stage each saw a fresh operator
    assert status_of(get_mdep(k8s))["phase"] == "Stable"
    with running_operator(k8s):  # v1's removal may not have come before the last operator stopped
        wait_for(lambda: len(k8s.list("apps/v1", "Deployment", "default")) == 1, "one Deployment left")

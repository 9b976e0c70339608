"""Shadow end to end against the emulator: the real operator, the test playing the Deployment
controller and serving the replicas' metrics (fake pods on 127.0.0.1), the stable pods' shadow
series with values the test controls (``canary_cluster``: a pod mirrors when its Deployment's
``serve`` args carry ``--shadow-version``).

Given v1 stable under a Shadow strategy (1 s analysis interval),
when spec.version names v2,
then v2 runs at full scale outside Service churn while v1's pods carry exactly the mirror flags;
good agreement promotes it (``then: Promote``) or continues as a canary (``then: Canary``);
disagreement or candidate errors roll it back with the figures (status, condition, Event) and the
flags removed; too few compared rows hold it Inconclusive and then Paused; and an operator
restarted at every step resumes it without resetting it or duplicating children.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .canary_cluster import (
    LIMITS,
    Replicas,
    agreeing_shadow,
    good_traffic,
    restarted_at_every_step,
    rolled_back,
    serve_args,
    stable_v1,
    strategy,
)
from .conftest import Artifact
from .harness import MV_API, condition, event_messages, get_mdep, has_condition, running_operator, status_of, wait_for

pytestmark = pytest.mark.integration

STRATEGY = strategy("Shadow", {**LIMITS, "minAgreement": 0.9},
                    shadow={"mirrorPercent": 50, "minSamples": 100, "then": "Promote"})
FLAGS = ["--shadow-url", "http://churn-churn-v2.default.svc:8080", "--shadow-percent", "50",
         "--shadow-version", "churn-v2"]
STABLE_SERVICE = {"app.kubernetes.io/instance": "churn", "modelops.dev/version": "churn-v1"}


def _shadowing(replicas: Replicas) -> dict[str, Any]:
    """Start the shadow of v2 and check what it looks like once v1's pods mirror."""
    k8s = replicas.k8s
    k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
    mirroring = replicas.until(lambda o: bool(status_of(o).get("lastAnalysisAt")) and status_of(o).get("step") == 0,
                               "a first shadow analysis")
    assert (status_of(mirroring)["candidate"], status_of(mirroring)["weight"]) == ("churn-v2", 0)
    # users only ever get stable's answers: Service churn selects v1's pods, v2 runs at full scale beside
    assert k8s.get("v1", "Service", "churn")["spec"]["selector"] == STABLE_SERVICE
    candidate = k8s.get("apps/v1", "Deployment", "churn-churn-v2")
    assert candidate["spec"]["replicas"] == 2
    assert not any(a.startswith("--shadow") for a in serve_args(candidate))
    assert serve_args(k8s.get("apps/v1", "Deployment", "churn-churn-v1"))[-6:] == FLAGS
    endpoints = [p for p in k8s.list("v1", "Pod", "default")
                 if all(p["metadata"]["labels"].get(k) == v for k, v in STABLE_SERVICE.items())]
    assert {p["metadata"]["labels"]["modelops.dev/version"] for p in endpoints} == {"churn-v1"}
    return mirroring


def _flag_history(replicas: Replicas) -> list[bool]:
    """For each template v1's Deployment had, in order: whether it carried exactly the flags."""
    seen = replicas.args_seen["churn-churn-v1"]
    assert all(args[-6:] == FLAGS or not any(a.startswith("--shadow") for a in args) for args in seen), seen
    return [args[-6:] == FLAGS for args in seen]


def test_good_agreement_promotes_with_then_promote(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        stable_v1(replicas, artifacts, STRATEGY)
        _shadowing(replicas)
        done = replicas.until(lambda o: status_of(o).get("stable") == "churn-v2", "churn-v2 promoted")
        # the operator retires v1 and posts the Event after the status write: wait while it runs
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1") is None, "churn-v1 retired")
        wait_for(lambda: event_messages(k8s, "Promoted"), "a Promoted Event")
    status = status_of(done)
    assert status["phase"] == "Stable"
    verdicts = {r["metric"]: r["verdict"] for r in status["analysis"]}
    assert verdicts == {"errorRate": "Pass", "latencyP99Ratio": "Pass", "predictionPSI": "Pass",
                        "agreement": "Pass", "shadowErrorRate": "Pass"}
    assert next(r for r in status["analysis"] if r["metric"] == "agreement")["value"] == 1.0
    assert (status["history"][-1]["version"], status["history"][-1]["result"]) == ("churn-v2", "Promoted")
    assert "shadow analysis passed" in status["history"][-1]["reason"]
    assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    assert not any(a.startswith("--shadow") for a in serve_args(k8s.get("apps/v1", "Deployment", "churn-churn-v2")))
    assert _flag_history(replicas) == [False, True]  # flags set once for the shadow; then the Deployment went
    assert event_messages(k8s, "ShadowPassed")


def test_then_canary_continues_into_the_canary_steps_without_the_mirror(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    with running_operator(k8s):
        stable_v1(replicas, artifacts, {**STRATEGY, "shadow": {**STRATEGY["shadow"], "then": "Canary"}})
        _shadowing(replicas)
        canary = replicas.until(lambda o: status_of(o).get("step") == 1 and status_of(o).get("weight") == 33,
                                "canary step 1: 1 of 3 ready pods is v2")
        assert status_of(canary)["candidate"] == "churn-v2"
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"] == {"app.kubernetes.io/instance": "churn"}
        assert not any(a.startswith("--shadow") for a in serve_args(k8s.get("apps/v1", "Deployment",
                                                                            "churn-churn-v1")))
        done = replicas.until(lambda o: status_of(o).get("stable") == "churn-v2", "churn-v2 promoted")
    status = status_of(done)
    assert "all 2 steps passed" in status["history"][-1]["reason"]
    assert {r["metric"] for r in status["analysis"]} == {"errorRate", "latencyP99Ratio", "predictionPSI"}
    assert _flag_history(replicas) == [False, True, False]  # on for the shadow, off for the canary
    assert any("continuing as a canary over 2 step(s)" in m for m in event_messages(k8s, "ShadowPassed"))
    assert len(event_messages(k8s, "StepPassed")) >= 2


BAD: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
    # metric, candidate's own traffic, what the stable pods saw of it per tick, figures in the message
    "disagreement": ("agreement", {}, {"answered": 20, "errors": 0, "rows": 20, "agreed": 10}, "0.5000, min 0.9"),
    "candidate-5xx": ("errorRate", {"ok": 18, "errors": 2, "outputs": (10, 10, 0)}, {},
                      "candidate requests failed (10%, limit 1%)"),
    "mirror-errors": ("shadowErrorRate", {}, {"answered": 16, "errors": 4, "rows": 16, "agreed": 16},
                      "mirrored requests failed (20%, limit 1%)"),
}


@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_bad_shadow_rolls_back_with_its_figures_and_the_mirror_removed(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact], bad: str
) -> None:
    metric, candidate_traffic, mirrored, figures = BAD[bad]
    replicas.traffic = lambda v: (candidate_traffic or good_traffic(v)) if v == "churn-v2" else good_traffic(v)
    replicas.shadow = lambda s, c: mirrored or agreeing_shadow(s, c)
    with running_operator(k8s):
        stable_v1(replicas, artifacts, STRATEGY)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        done = rolled_back(replicas, f"rolled back on {metric}")
        status = status_of(done)
        message = (condition(done, "Progressing") or {})["message"]
        assert f"{metric} failed in shadow" in message
        assert figures in message
        failed = next(r for r in status["analysis"] if r["metric"] == metric)
        assert failed["verdict"] == "Fail"
        assert failed["samples"] >= 100
        assert status["history"][-1]["result"] == "RolledBack"
        wait_for(lambda: any(metric in m and figures in m for m in event_messages(k8s, "RolledBack")),
                 "a RolledBack Event with the metric and its figures")
        wait_for(lambda: k8s.get("apps/v1", "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0, "v2 at 0")
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"] == STABLE_SERVICE
        # not retried, and v1's pods stop mirroring (one template with the flags, then one without)
        time.sleep(1.5)
        replicas.tick()
        assert status_of(get_mdep(k8s))["phase"] == "RolledBack"
        assert _flag_history(replicas) == [False, True, False]
        assert replicas.versions() == {"churn-v1": 2}


def test_too_few_compared_rows_hold_it_inconclusive_then_paused_until_promoted(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    replicas.shadow = lambda _s, _c: {"answered": 1, "errors": 0, "rows": 1, "agreed": 1}  # far below minSamples
    with running_operator(k8s):
        stable_v1(replicas, artifacts, {**STRATEGY, "progressDeadline": "4s"})
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        held = replicas.until(lambda o: status_of(o).get("stepVerdict") == "Inconclusive", "inconclusive")
        assert (status_of(held)["step"], status_of(held).get("stable")) == (0, "churn-v1")
        agreement = next(r for r in status_of(held)["analysis"] if r["metric"] == "agreement")
        assert agreement["verdict"] == "Inconclusive"
        paused = replicas.until(lambda o: status_of(o).get("phase") == "Paused", "paused")
        assert has_condition(paused, "Progressing", "False", "InsufficientData")
        assert status_of(paused)["candidate"] == "churn-v2"  # no blind promotion, no silent rollback
        assert serve_args(k8s.get("apps/v1", "Deployment", "churn-churn-v1"))[-6:] == FLAGS
        k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {"modelops.dev/action": "promote"}}})
        done = replicas.until(lambda o: status_of(o).get("stable") == "churn-v2", "promoted by the action")
        assert "promote action" in status_of(done)["history"][-1]["reason"]


def test_an_operator_restarted_at_every_step_of_a_shadow_resumes_it(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    replicas.shadow = lambda _s, _c: {"answered": 1, "errors": 0, "rows": 1, "agreed": 1}  # held in shadow
    with running_operator(k8s):
        stable_v1(replicas, artifacts, {**STRATEGY, "shadow": {**STRATEGY["shadow"], "then": "Canary"}})
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        replicas.until(lambda o: status_of(o).get("step") == 0
                       and status_of(o).get("stepVerdict") == "Inconclusive", "the shadow analysed (inconclusive)")
    uids = {d["metadata"]["name"]: d["metadata"]["uid"] for d in k8s.list("apps/v1", "Deployment", "default")}
    assert set(uids) == {"churn-churn-v1", "churn-churn-v2"}
    replicas.shadow = agreeing_shadow

    def prepare(step: int) -> None:
        if step >= 1:
            replicas.cap["churn-v2"] = 1  # the promotion stage (2 replicas) holds until its own restart
        if step >= 3:
            replicas.cap.clear()

    restarts: list[int] = []
    for restart in restarted_at_every_step(replicas, prepare):
        restarts.append(restart.step)
        weights = [s.get("weight") for s in restart.same_step]
        # the weight is never reset: a candidate serving before the restart keeps serving (its share
        # moves only as the step's pods come up or go, e.g. from the shadow's 2 pods to the step's 1)
        if int(restart.before.get("weight") or 0) > 0:
            assert all(int(w or 0) > 0 for w in weights), (restart.step, weights)
        if restart.step == 0:
            assert all(w == 0 for w in weights)  # shadowing: no user sees the candidate
    # the shadow (held Inconclusive) and the promotion stage (held by the cap) each saw a fresh
    # operator by construction, and so did at least one canary step between them
    assert restarts[0] == 0
    assert 3 in restarts
    assert len(restarts) >= 3
    assert status_of(get_mdep(k8s))["phase"] == "Stable"
    assert k8s.get("apps/v1", "Deployment", "churn-churn-v2")["metadata"]["uid"] == uids["churn-churn-v2"]
    assert _flag_history(replicas) == [False, True, False]  # the mirror set once and removed once
    started = [m for m in event_messages(k8s, "RolloutStarted") if "churn-v2" in m]
    assert len(started) == 1  # started once, resumed after

"""``modelops rollout status`` beyond Canary: the shadow stage, the canary after it, a gateway's exact weights."""

from __future__ import annotations

from typing import Any

from modelops.rollout.render import Section, plain, tables

STEPS = [{"weight": 20, "pause": "1m"}, {"weight": 50, "pause": "2m"}]


def _mdep(status: dict[str, Any], *, then: str = "Canary", router: str = "Replicas") -> dict[str, Any]:
    spec: dict[str, Any] = {"model": "churn", "version": "churn-v2", "replicas": 4, "router": router,
                            "strategy": {"type": "Shadow", "shadow": {"mirrorPercent": 50, "minSamples": 1000,
                                                                      "then": then},
                                         "canary": {"steps": STEPS}}}
    return {"metadata": {"name": "churn", "namespace": "default"}, "spec": spec, "status": status}


def _section(obj: dict[str, Any], title: str) -> Section:
    return next(s for s in tables(obj) if s.title == title)


def _result(metric: str, verdict: str, samples: int, value: float | None = None) -> dict[str, Any]:
    return {"metric": metric, "value": value, "threshold": 0.9, "samples": samples, "verdict": verdict,
            "time": "2026-11-30T12:01:00Z"}


SHADOWING = {"phase": "Progressing", "stable": "churn-v1", "candidate": "churn-v2", "weight": 0, "step": 0,
             "stepStartedAt": "2026-11-30T12:00:00Z", "stepVerdict": "Inconclusive"}


def test_the_shadow_stage_shows_mirror_samples_and_agreement_then_the_canary_steps_pending() -> None:
    obj = _mdep({**SHADOWING, "analysis": [_result("errorRate", "Pass", 2400, 0.1),
                                           _result("agreement", "Inconclusive", 640, 0.97)]})
    shadow = _section(obj, "Shadow")
    assert shadow.header == ("STAGE", "MIRROR", "MIRRORED BY", "SAMPLES/MIN", "AGREEMENT", "STATE")
    assert shadow.rows == (("shadow", "50%", "stable pods", "640 / 1000", "0.97 (Inconclusive)",
                            "current (analysis Inconclusive, since 2026-11-30T12:00:00Z)"),)
    steps = _section(obj, "Steps")
    assert steps.rows == (("1", "20%", "1m", "pending"), ("2", "50%", "2m", "pending"))


def test_after_the_shadow_the_canary_steps_count_from_status_step_minus_one() -> None:
    obj = _mdep({**SHADOWING, "step": 2, "weight": 50, "stepVerdict": None})
    assert _section(obj, "Shadow").rows[0][-1] == "passed"
    assert _section(obj, "Shadow").rows[0][4] == "-"  # the analysis now is the canary step's
    assert _section(obj, "Steps").rows == (
        ("1", "20%", "1m", "passed"), ("2", "50%", "2m", "current (analysis pending, since 2026-11-30T12:00:00Z)"))
    promoting = _mdep({**SHADOWING, "step": 3, "weight": 50})
    assert _section(promoting, "Steps").rows[-1] == ("-", "100%", "-", "promoting: scaling the candidate up")


def test_then_promote_shows_the_promotion_and_no_canary_steps() -> None:
    obj = _mdep({**SHADOWING, "step": 1}, then="Promote")
    assert [s.title for s in tables(obj)] == ["Shadow"]
    assert _section(obj, "Shadow").rows == (
        ("shadow", "50%", "stable pods", "- / 1000", "-", "passed"),
        ("promote", "-", "-", "-", "-", "promoting: scaling the candidate up"))


def test_under_a_gateway_agreement_reads_not_measured_and_samples_are_the_candidates_requests() -> None:
    obj = _mdep({**SHADOWING, "analysis": [_result("errorRate", "Inconclusive", 300, 0.0),
                                           _result("agreement", "NotMeasured", 0)]}, router="GatewayAPI")
    assert _section(obj, "Shadow").rows[0][2:5] == ("HTTPRoute RequestMirror", "300 / 1000",
                                                     "not measured (gateway mirror)")
    text = plain(obj)
    assert "router GatewayAPI (exact weights)" in text.splitlines()[0]
    assert "agreement  -      0.9        0        NotMeasured" in text


def test_gateway_canary_steps_show_the_routes_exact_split() -> None:
    obj = {"metadata": {"name": "churn", "namespace": "default"},
           "spec": {"model": "churn", "router": "GatewayAPI",
                    "strategy": {"type": "Canary", "canary": {"steps": STEPS}}},
           "status": {**SHADOWING, "step": 1, "weight": 50}}
    steps = _section(obj, "Steps")
    assert steps.header == ("STEP", "WEIGHT", "ROUTE", "PAUSE", "STATE")
    assert [r[:3] for r in steps.rows] == [("1", "20%", "stable 80 / candidate 20"),
                                           ("2", "50%", "stable 50 / candidate 50")]
    stable = {**obj, "status": {"phase": "Stable", "stable": "churn-v2", "weight": 100}}
    assert {r[-1] for r in _section(stable, "Steps").rows} == {"-"}

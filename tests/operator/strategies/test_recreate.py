"""Recreate: the candidate at full scale, then Service D switches to it (seeded status in, plan out)."""

from __future__ import annotations

from tests.operator.objects import deployment, model_deployment, model_version

from .support import applied, cond, run, stable_status

VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]


def test_a_new_version_gets_full_scale_beside_the_stable_one_and_service_d_stays() -> None:
    obj = model_deployment(version="churn-v2", status=stable_status())
    p = run(obj, versions=VERSIONS, deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert applied(p, "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
    assert (p.status["phase"], p.status["weight"], p.status["candidate"]) == ("Progressing", 0, "churn-v2")
    assert cond(p, "Progressing") == ("True", "RollingOut")


def test_all_replicas_available_promotes_and_retires_the_old_version_at_once() -> None:
    obj = model_deployment(version="churn-v2", status=stable_status(candidate="churn-v2",
                                                                   stepStartedAt="2026-11-30T11:59:00Z"))
    deps = [deployment("churn-churn-v1", "churn-v1", available=2),
            deployment("churn-churn-v2", "churn-v2", available=2)]
    p = run(obj, versions=VERSIONS, deployments=deps)
    assert (p.status["stable"], p.status["phase"], p.status["weight"]) == ("churn-v2", "Stable", 100)
    assert ("Deployment", "churn-churn-v1", "uid-deployment-churn-churn-v1") in p.delete
    assert "retiring" not in p.status  # Recreate keeps no scaleDownDelay (as before canaries)
    assert p.status["history"][-1]["result"] == "Promoted"


def test_the_abort_action_rolls_back_and_is_removed() -> None:
    obj = model_deployment(version="churn-v2", annotations={"modelops.dev/action": "abort"},
                           status=stable_status(candidate="churn-v2", stepStartedAt="2026-11-30T11:59:00Z"))
    p = run(obj, versions=VERSIONS, deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert p.status["phase"] == "RolledBack"
    assert cond(p, "Progressing") == ("False", "Aborted")
    assert p.remove_action
    assert p.status["history"][-1]["result"] == "RolledBack"


def test_promotion_auto_says_which_version_it_picked_and_why_and_skips_a_failed_one() -> None:
    versions = [model_version("churn-v1", created="2026-11-27T10:00:00Z"),
                model_version("churn-v2", created="2026-11-28T10:00:00Z"),
                model_version("churn-v3", created="2026-11-29T10:00:00Z", ready=False)]
    obj = model_deployment(version=None, promotion="Auto", status=stable_status())
    p = run(obj, versions=versions, deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert p.status["candidate"] == "churn-v2"  # v3 failed its checks: never rolled out
    assert p.status["selected"]["version"] == "churn-v2"
    assert p.status["selected"]["reason"] == (
        "the newest Ready ModelVersion of model churn (created 2026-11-28T10:00:00Z); "
        "not Ready: churn-v3 (DigestMismatch)")
    assert any(e.reason == "RolloutStarted" and "promotion Auto picked it" in e.message for e in p.events)

"""ModelDeployment decisions without a server: given the object and what is observed, the plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.api.modeldeployment import ModelDeploymentStatus
from modelops.operator.modeldeployment.children import child_name
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan, write_failed
from modelops.operator.plans import Plan

from .objects import UID, condition, deployment, model_deployment, model_version, service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _plan(obj: dict[str, Any], *, versions: Sequence[dict[str, Any]], deployments: Sequence[dict[str, Any]] = (),
          services: Sequence[dict[str, Any]] = (), now: datetime = NOW) -> Plan:
    observed = Observed.from_objects(UID, versions=versions, deployments=deployments, services=services)
    return plan(obj, observed, image="img:1", now=now)


def _names(p: Plan) -> list[tuple[str, str]]:
    return [(str(c["kind"]), str(c["metadata"]["name"])) for c in p.apply]


def _cond(p: Plan, type_: str) -> tuple[str, str]:
    for c in p.status["conditions"]:
        if c["type"] == type_:
            return c["status"], c["reason"]
    raise AssertionError(f"no {type_} condition in {p.status}")


def _message(p: Plan, type_: str) -> str:
    return str(next(c["message"] for c in p.status["conditions"] if c["type"] == type_))


def _stable(version: str = "churn-v1", **extra: Any) -> dict[str, Any]:
    return {"observedGeneration": 1, "phase": "Stable", "stable": version, "weight": 100,
            "conditions": [condition("Ready", "True", "Available")], **extra}


def test_first_rollout_creates_the_deployment_and_service_d_and_waits_for_pods() -> None:
    p = _plan(model_deployment(), versions=[model_version("churn-v1")])
    # Service D selects the only version there is: no Service of its own (D-V) is needed
    assert _names(p) == [("Deployment", "churn-churn-v1"), ("Service", "churn")]
    assert p.status["phase"] == "Progressing"
    assert p.status["candidate"] == "churn-v1"
    assert "stable" not in p.status
    assert _cond(p, "Ready") == ("False", "WaitingForPods")
    assert _cond(p, "Progressing") == ("True", "RollingOut")
    assert p.status["observedGeneration"] == 1
    assert p.status["endpoint"] == "http://churn.default.svc:8080/v2/models/churn"
    assert p.events == ()  # a first rollout is announced once, by Promoted: its start is in the status
    assert p.requeue_after == 600.0  # the default progressDeadline: look again when it expires


def test_first_version_becomes_stable_once_all_replicas_are_available() -> None:
    status = {"candidate": "churn-v1", "stepStartedAt": "2026-11-27T11:59:00Z", "phase": "Progressing"}
    p = _plan(model_deployment(status=status), versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert p.status["stable"] == "churn-v1"
    assert "candidate" not in p.status
    assert p.status["weight"] == 100
    assert p.status["phase"] == "Stable"
    assert p.status["availableReplicas"] == 2
    assert _cond(p, "Ready") == ("True", "Available")
    assert _message(p, "Ready") == "2/2 replicas of churn-v1 available"
    assert p.status["history"][-1]["result"] == "Promoted"
    promoted = [e for e in p.events if e.reason == "Promoted"]
    assert promoted
    assert "2/2 replicas available" in promoted[0].message


def test_a_partly_available_deployment_keeps_waiting() -> None:
    status = {"candidate": "churn-v1", "stepStartedAt": "2026-11-27T11:59:00Z"}
    p = _plan(model_deployment(status=status), versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=1)])
    assert p.status["candidate"] == "churn-v1"
    assert _cond(p, "Ready") == ("False", "WaitingForPods")
    assert "1/2 replicas available" in _message(p, "Ready")
    assert p.delete == ()


def test_changing_the_version_rolls_out_beside_the_stable_one_which_keeps_serving() -> None:
    obj = model_deployment(version="churn-v2", status=_stable(), generation=2)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2", sha="b" * 64)],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)],
              services=[service("churn", "churn-v1")])
    assert ("Deployment", "churn-churn-v1") in _names(p)
    assert ("Deployment", "churn-churn-v2") in _names(p)
    # while the rollout is in flight each version has its own address (D-V), to test it directly
    assert {("Service", "churn-churn-v1"), ("Service", "churn-churn-v2")} <= set(_names(p))
    main = next(c for c in p.apply if c["metadata"]["name"] == "churn")
    assert main["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
    assert p.delete == ()
    assert p.status["stable"] == "churn-v1"
    assert p.status["candidate"] == "churn-v2"
    assert p.status["weight"] == 0
    assert _cond(p, "Ready") == ("False", "WaitingForPods")
    assert "churn-v1 keeps serving (2/2 replicas available)" in _message(p, "Ready")


def test_promotion_switches_the_main_service_and_deletes_the_old_version() -> None:
    status = _stable(candidate="churn-v2", stepStartedAt="2026-11-27T11:58:00Z")
    obj = model_deployment(version="churn-v2", status=status, generation=2)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2),
                           deployment("churn-churn-v2", "churn-v2", available=2)],
              services=[service("churn", "churn-v1"), service("churn-churn-v1", "churn-v1"),
                        service("churn-churn-v2", "churn-v2")])
    main = next(c for c in p.apply if c["metadata"]["name"] == "churn")
    assert main["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    # the old version goes, and so do the per-version Services of the rollout: D is v2's address
    assert p.delete == (("Deployment", "churn-churn-v1", "uid-deployment-churn-churn-v1"),
                        ("Service", "churn-churn-v1", "uid-service-churn-churn-v1"),
                        ("Service", "churn-churn-v2", "uid-service-churn-churn-v2"))
    assert p.status["stable"] == "churn-v2"
    assert _cond(p, "Ready") == ("True", "Available")


def test_at_rest_the_stable_version_has_no_service_of_its_own_and_a_leftover_one_goes() -> None:
    # Service D selects exactly the stable's pods; a D-V left from a rollout (or an older
    # operator, which kept one per version) is one more ClusterIP and set of proxy rules
    p = _plan(model_deployment(status=_stable()), versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)],
              services=[service("churn", "churn-v1"), service("churn-churn-v1", "churn-v1")])
    assert _names(p) == [("Deployment", "churn-churn-v1"), ("Service", "churn")]
    assert p.delete == (("Service", "churn-churn-v1", "uid-service-churn-churn-v1"),)
    assert p.status["phase"] == "Stable"


def test_a_version_that_does_not_exist_leaves_the_stable_one_serving_and_says_why() -> None:
    obj = model_deployment(version="churn-v9", status=_stable(), generation=2)
    p = _plan(obj, versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert _names(p) == [("Deployment", "churn-churn-v1"), ("Service", "churn")]
    assert p.delete == ()
    assert p.status["stable"] == "churn-v1"
    assert _cond(p, "Ready") == ("False", "VersionNotFound")
    assert _cond(p, "Progressing") == ("False", "VersionNotFound")
    assert "ModelVersion churn-v9 not found in namespace default" in _message(p, "Ready")
    assert "churn-v1 keeps serving" in _message(p, "Ready")
    assert p.requeue_after is None  # a ModelVersion event brings it back, not a polling loop


def test_a_version_that_is_not_ready_is_not_rolled_out() -> None:
    obj = model_deployment(version="churn-v2", status=_stable(), generation=2)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2", ready=False)],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert ("Deployment", "churn-churn-v2") not in _names(p)
    assert _cond(p, "Ready") == ("False", "VersionNotReady")
    assert "DigestMismatch" in _message(p, "Ready")
    assert p.status["stable"] == "churn-v1"


def test_a_version_of_another_model_is_an_invalid_spec() -> None:
    p = _plan(model_deployment(version="fraud-v1"), versions=[model_version("fraud-v1", model="fraud")])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert "spec.version" in _message(p, "Ready")
    assert p.apply == ()


def test_invalid_fields_give_invalid_spec_naming_the_field_and_touch_nothing() -> None:
    obj = model_deployment(replicas=-1, status=_stable())
    p = _plan(obj, versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert _message(p, "Ready").startswith("spec.replicas:")
    assert p.apply == ()
    assert p.delete == ()
    assert p.status["stable"] == "churn-v1"


def test_a_first_rollout_deploys_directly_whatever_the_strategy() -> None:
    p = _plan(model_deployment(strategy={"type": "Canary"}), versions=[model_version("churn-v1")])
    assert _names(p) == [("Deployment", "churn-churn-v1"), ("Service", "churn")]
    assert p.status["candidate"] == "churn-v1"


def test_a_version_change_under_an_invalid_strategy_is_refused_and_the_stable_keeps_serving() -> None:
    # Shadow continues as a canary by default: without canary steps written out, it cannot start
    obj = model_deployment(version="churn-v2", strategy={"type": "Shadow"}, status=_stable())
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert _message(p, "Ready").startswith(
        "spec.strategy.canary.steps: required when spec.strategy.type is Shadow with shadow.then Canary"
    )
    assert ("Deployment", "churn-churn-v2") not in _names(p)
    assert p.delete == ()
    assert p.status["stable"] == "churn-v1"
    assert _cond(p, "Stalled") == ("True", "InvalidSpec")


def test_router_gateway_api_without_a_gateway_is_refused_clearly() -> None:
    p = _plan(model_deployment(router="GatewayAPI"), versions=[model_version("churn-v1")])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert _message(p, "Ready") == "spec.gateway: required when spec.router is GatewayAPI"
    assert p.apply == ()


def test_auto_promotion_picks_the_newest_ready_version_of_the_model() -> None:
    versions = [
        model_version("churn-v1", created="2026-11-27T09:00:00Z"),
        model_version("churn-v2", created="2026-11-27T10:00:00Z"),
        model_version("churn-v3", created="2026-11-27T11:00:00Z", ready=False),
        model_version("fraud-v9", model="fraud", created="2026-11-27T11:30:00Z"),
    ]
    p = _plan(model_deployment(version=None, promotion="Auto"), versions=versions)
    assert p.status["candidate"] == "churn-v2"


def test_a_candidate_not_available_by_the_progress_deadline_is_rolled_back_once() -> None:
    status = _stable(candidate="churn-v2", stepStartedAt="2026-11-27T11:00:00Z")
    obj = model_deployment(version="churn-v2", status=status, generation=2,
                           strategy={"type": "Recreate", "progressDeadline": "10m"})
    versions = [model_version("churn-v1"), model_version("churn-v2")]
    deps = [deployment("churn-churn-v1", "churn-v1", available=2),
            deployment("churn-churn-v2", "churn-v2", available=1)]
    p = _plan(obj, versions=versions, deployments=deps)
    assert p.delete == (("Deployment", "churn-churn-v2", "uid-deployment-churn-churn-v2"),)
    assert p.status["phase"] == "RolledBack"
    assert p.status["stable"] == "churn-v1"
    assert p.status["history"][-1]["result"] == "RolledBack"
    assert any(e.reason == "RolledBack" and e.type == "Warning" for e in p.events)

    # The next reconcile of the same generation does not try again...
    again = model_deployment(version="churn-v2", status=dict(p.status), generation=2,
                             strategy={"type": "Recreate", "progressDeadline": "10m"})
    p2 = _plan(again, versions=versions, deployments=deps[:1], now=NOW + timedelta(minutes=1))
    assert ("Deployment", "churn-churn-v2") not in _names(p2)
    assert _cond(p2, "Ready") == ("False", "RolledBack")
    assert _cond(p2, "Stalled") == ("True", "RolledBack")
    assert p2.status == p.status  # the rollback's own reconcile already wrote the settled status
    # ...but a retry action does, and asks for the annotation to be removed.
    retried = model_deployment(version="churn-v2", status=dict(p.status), generation=2,
                               annotations={"modelops.dev/action": "retry"},
                               strategy={"type": "Recreate", "progressDeadline": "10m"})
    p3 = _plan(retried, versions=versions, deployments=deps[:1], now=NOW + timedelta(minutes=2))
    assert ("Deployment", "churn-churn-v2") in _names(p3)
    assert p3.remove_action


def test_children_of_others_are_never_deleted() -> None:
    foreign = deployment("churn-churn-v0", "churn-v0", owner="someone-else")
    p = _plan(model_deployment(status=_stable()), versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2), foreign])
    assert p.delete == ()


def test_a_settled_deployment_plans_the_same_status_again() -> None:
    versions = [model_version("churn-v1")]
    deps = [deployment("churn-churn-v1", "churn-v1", available=2)]
    first = _plan(model_deployment(status=_stable()), versions=versions, deployments=deps)
    second = _plan(model_deployment(status=dict(first.status)), versions=versions, deployments=deps,
                   now=NOW + timedelta(minutes=5))
    assert second.status == first.status
    assert second.events == ()


def test_the_reconcile_after_a_promotion_changes_nothing_more() -> None:
    status = _stable(candidate="churn-v2", stepStartedAt="2026-11-27T11:58:00Z")
    versions = [model_version("churn-v1"), model_version("churn-v2")]
    deps = [deployment("churn-churn-v2", "churn-v2", available=2)]
    promoted = _plan(model_deployment(version="churn-v2", status=status), versions=versions, deployments=deps)
    after = _plan(model_deployment(version="churn-v2", status=dict(promoted.status)), versions=versions,
                  deployments=deps, now=NOW + timedelta(seconds=1))
    assert after.status == promoted.status


def _types(p: Plan) -> list[str]:
    return [c["type"] for c in p.status["conditions"]]


def test_kstatus_sees_a_rollout_in_progress_and_an_invalid_spec_as_stalled() -> None:
    rolling = _plan(model_deployment(), versions=[model_version("churn-v1")])
    assert _cond(rolling, "Reconciling") == ("True", "RollingOut")
    assert "Stalled" not in _types(rolling)
    invalid = _plan(model_deployment(router="GatewayAPI"), versions=[model_version("churn-v1")])
    assert _cond(invalid, "Stalled") == ("True", "InvalidSpec")
    assert "Reconciling" not in _types(invalid)
    settled = _plan(model_deployment(status=_stable()), versions=[model_version("churn-v1")],
                    deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert "Reconciling" not in _types(settled)
    assert "Stalled" not in _types(settled)


def test_paused_holds_a_new_version_back_and_keeps_the_stable_one() -> None:
    obj = model_deployment(version="churn-v2", status=_stable(), generation=2, paused=True)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert ("Deployment", "churn-churn-v2") not in _names(p)
    assert p.status["phase"] == "Paused"
    assert _cond(p, "Progressing") == ("False", "Paused")
    assert p.delete == ()


def test_a_deleted_stable_version_leaves_its_serving_children_alone() -> None:
    p = _plan(model_deployment(status=_stable()), versions=[],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)],
              services=[service("churn-churn-v1", "churn-v1"), service("churn", "churn-v1")])
    assert p.delete == ()
    assert ("Deployment", "churn-churn-v1") not in _names(p)  # cannot be rebuilt without its artifact
    assert _cond(p, "Ready") == ("False", "VersionNotFound")


def test_a_rollout_beside_the_stable_announces_its_start_and_progress_but_not_the_absence_of_degradation() -> None:
    status = _stable(conditions=[condition("Ready", "True", "Available"), condition("Progressing", "False", "Stable"),
                                 condition("Degraded", "False", "Available")])
    obj = model_deployment(version="churn-v2", status=status, generation=2)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    assert [e.reason for e in p.events] == ["RolloutStarted", "WaitingForPods", "RollingOut"]


def test_a_pause_mid_rollout_stops_the_deadline_which_restarts_when_it_ends() -> None:
    status = _stable(candidate="churn-v2", stepStartedAt="2026-11-27T10:00:00Z")  # 2h ago: past 10m
    versions = [model_version("churn-v1"), model_version("churn-v2")]
    deps = [deployment("churn-churn-v1", "churn-v1", available=2),
            deployment("churn-churn-v2", "churn-v2", available=1)]
    paused = _plan(model_deployment(version="churn-v2", status=status, paused=True), versions=versions,
                   deployments=deps)
    assert paused.status["phase"] == "Paused"
    assert paused.status["candidate"] == "churn-v2"
    assert "stepStartedAt" not in paused.status
    assert paused.delete == ()
    assert paused.requeue_after is None
    resumed = _plan(model_deployment(version="churn-v2", status=dict(paused.status)), versions=versions,
                    deployments=deps)
    assert resumed.status["phase"] == "Progressing"
    assert resumed.status["stepStartedAt"] == "2026-11-27T12:00:00Z"
    assert resumed.requeue_after == 600.0


# -- specs that used to leave no status (issue 12 item 6) --------------------------------------


def test_a_name_that_cannot_name_a_service_is_an_invalid_spec_and_makes_nothing() -> None:
    obj = model_deployment()
    obj["metadata"]["name"] = "2024-churn"  # admitted before the CRD's name rule
    p = _plan(obj, versions=[model_version("churn-v1")])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert _message(p, "Ready").startswith("metadata.name: '2024-churn' is not a DNS-1035 label")
    assert p.apply == ()
    assert p.status["observedGeneration"] == 1


def test_a_progress_deadline_beyond_the_limit_is_an_invalid_spec_naming_the_field() -> None:
    obj = model_deployment(strategy={"type": "Recreate", "progressDeadline": "99999999999999h"})
    p = _plan(obj, versions=[model_version("churn-v1")])
    assert _cond(p, "Ready") == ("False", "InvalidSpec")
    assert _message(p, "Ready").startswith("spec.strategy.progressDeadline:")
    assert p.apply == ()
    obj = model_deployment(strategy={"type": "Recreate", "progressDeadline": "9000h"})
    assert "longer than the limit of 8784h" in _message(_plan(obj, versions=[model_version("churn-v1")]), "Ready")


def test_a_refused_child_write_leaves_a_status_that_says_so_and_claims_nothing_new() -> None:
    obj = model_deployment(status=_stable(), generation=3)
    p = write_failed(obj, "Service default/churn-churn-v2: HTTP 422 Invalid", now=NOW)
    assert _cond(p, "Ready") == ("False", "ChildWriteFailed")
    assert "HTTP 422" in _message(p, "Ready")
    assert p.status["stable"] == "churn-v1"
    assert p.status["observedGeneration"] == 3
    assert (p.apply, p.delete, p.retry) == ((), (), True)
    assert [e.reason for e in p.events] == ["ChildWriteFailed"]


def test_the_status_is_what_the_status_model_writes() -> None:
    status = _stable(candidate="churn-v2", stepStartedAt="2026-11-27T11:58:00Z", abTest={"winner": "x"})
    p = _plan(model_deployment(version="churn-v2", status=status), versions=[model_version("churn-v1"),
              model_version("churn-v2")], deployments=[deployment("churn-churn-v1", "churn-v1", available=2)])
    parsed = ModelDeploymentStatus.model_validate(p.status)
    owned = parsed.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
    assert {k: v for k, v in p.status.items() if k != "abTest"} == {k: v for k, v in owned.items() if k != "abTest"}
    assert p.status["abTest"] == {"winner": "x"}  # a later capability's field is kept as it was


def test_children_named_by_an_older_rule_serve_until_their_successors_are_available() -> None:
    # An operator upgrade: `churn` / `v1` was `churn-v1`, and is now hashed (a ModelDeployment could be
    # called churn-v1). The old Deployment keeps serving until the new one has all its pods.
    new_name = child_name("churn", "v1")
    status = {**_stable("v1"), "pinned": [{"version": "v1", "uid": "uid-v1", "uri": "file:///artifacts/v1",
                                           "sha256": "a" * 64, "format": "skops"}]}
    obj = model_deployment(version="v1", status=status)
    old = [deployment("churn-v1", "v1", available=2)]
    p = _plan(obj, versions=[model_version("v1")], deployments=old)
    assert ("Deployment", new_name) in _names(p)
    assert p.delete == ()
    done = _plan(obj, versions=[model_version("v1")], deployments=[*old, deployment(new_name, "v1", available=2)])
    assert done.delete == (("Deployment", "churn-v1", "uid-deployment-churn-v1"),)

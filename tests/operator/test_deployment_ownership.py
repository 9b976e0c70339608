"""Issue 12 item 2: an object of a child's name that is not ours is never written or deleted.

Seeded observations in, plan out: a name conflict blocks what depends on the object, says
which object it is in Ready (NameConflict), and leaves everything else as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import CONFLICT_RECHECK_S, plan
from modelops.operator.ownership import controller_uid
from modelops.operator.plans import Plan

from .objects import UID, condition, deployment, model_deployment, model_version, service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _plan(obj: dict[str, Any], *, versions: Sequence[dict[str, Any]], deployments: Sequence[dict[str, Any]] = (),
          services: Sequence[dict[str, Any]] = (), others: Sequence[dict[str, Any]] = ()) -> Plan:
    observed = Observed.from_objects(UID, versions, deployments, services, others)
    return plan(obj, observed, image="img:1", now=NOW)


def _names(p: Plan) -> list[tuple[str, str]]:
    return [(str(c["kind"]), str(c["metadata"]["name"])) for c in p.apply]


def _ready(p: Plan) -> dict[str, Any]:
    return next(c for c in p.status["conditions"] if c["type"] == "Ready")


def _other_apps_service(name: str) -> dict[str, Any]:
    """Another application's Service, as a GET returns it: no owner reference, its own selector."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": "uid-web-app", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8000}]}}


def _stable() -> dict[str, Any]:
    return {"observedGeneration": 1, "phase": "Stable", "stable": "churn-v1", "weight": 100,
            "conditions": [condition("Ready", "True", "Available")]}


def test_another_apps_service_of_the_main_name_blocks_a_first_rollout_and_is_named() -> None:
    p = _plan(model_deployment(), versions=[model_version("churn-v1")], others=[_other_apps_service("churn")])
    assert p.apply == ()  # nothing is made for a rollout that could not be reached
    assert p.delete == ()
    ready = _ready(p)
    assert (ready["status"], ready["reason"]) == ("False", "NameConflict")
    assert "Service default/churn already exists" in ready["message"]
    assert next(c for c in p.status["conditions"] if c["type"] == "Stalled")["status"] == "True"
    assert p.requeue_after == CONFLICT_RECHECK_S  # its deletion raises no event of ours
    assert "candidate" not in p.status
    assert any(e.reason == "NameConflict" and e.type == "Warning" for e in p.events)


def test_a_listed_child_controlled_by_another_owner_is_neither_patched_nor_deleted() -> None:
    # Same labels, another controller: e.g. left by a deleted ModelDeployment of the same name.
    stale = deployment("churn-churn-v1", "churn-v1", available=2, owner="uid-old-churn")
    p = _plan(model_deployment(), versions=[model_version("churn-v1")], deployments=[stale])
    assert ("Deployment", "churn-churn-v1") not in _names(p)
    assert p.delete == ()
    ready = _ready(p)
    assert ready["reason"] == "NameConflict"
    assert "Deployment default/churn-churn-v1" in ready["message"]
    assert "uid-old-churn" in ready["message"]


def test_a_conflict_on_the_candidate_leaves_the_stable_version_serving() -> None:
    obj = model_deployment(version="churn-v2", status=_stable(), generation=2)
    p = _plan(obj, versions=[model_version("churn-v1"), model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)],
              services=[service("churn", "churn-v1")],
              others=[_other_apps_service("churn-churn-v2")])
    assert _names(p) == [("Deployment", "churn-churn-v1"), ("Service", "churn")]
    assert p.delete == ()
    assert p.status["stable"] == "churn-v1"
    assert "candidate" not in p.status
    assert _ready(p)["reason"] == "NameConflict"
    assert "churn-v1 keeps serving (2/2 replicas available)" in _ready(p)["message"]


def test_an_object_found_by_name_that_is_ours_is_a_child_not_a_conflict() -> None:
    # Its labels were edited by hand, so the selector missed it; the controller reference says it is ours.
    ours = service("churn", "churn-v1")
    ours["metadata"]["labels"] = {}
    p = _plan(model_deployment(status=_stable()), versions=[model_version("churn-v1")],
              deployments=[deployment("churn-churn-v1", "churn-v1", available=2)], others=[ours])
    assert ("Service", "churn") in _names(p)
    assert _ready(p)["reason"] == "Available"


def test_only_a_controller_reference_makes_an_object_ours() -> None:
    plain = {"metadata": {"ownerReferences": [{"kind": "ModelDeployment", "uid": UID}]}}
    assert controller_uid(plain) is None  # a non-controller reference proves nothing
    controlled = {"metadata": {"ownerReferences": [{"kind": "X", "uid": "a"}, {"uid": UID, "controller": True}]}}
    assert controller_uid(controlled) == UID


def test_deletions_carry_the_uid_of_the_object_that_was_observed() -> None:
    status = {**_stable(), "stable": "churn-v2"}
    p = _plan(model_deployment(version="churn-v2", status=status), versions=[model_version("churn-v2")],
              deployments=[deployment("churn-churn-v1", "churn-v1"),
                           deployment("churn-churn-v2", "churn-v2", available=2)])
    assert p.delete == (("Deployment", "churn-churn-v1", "uid-deployment-churn-churn-v1"),)

"""The ClusterRole grants exactly what the operator's own requests need, recorded, not guessed.

The real operator (kopf plus our client, over HTTPS with its token) runs a rollout against the
emulator, which records every request. Each request maps to the (apiGroup, resource, verb)
that a real API server's RBAC authorizer would check; the ClusterRole must grant each of
them and nothing else. The one grant no request shows is `update` on
`modeldeployments/finalizers`: the OwnerReferencesPermissionEnforcement admission plugin
(OpenShift) requires it to create a child whose ownerReference sets `blockOwnerDeletion`;
it is derived from the children the run actually created.

Each later capability (HTTPRoutes: the gateway scenario below, with our Gateway API CRD
installed; Jobs, DriftPolicies, ModelVersions created by retraining: the drift scenario below)
adds its own grants when its code starts making those requests; this test then fails until
the ClusterRole says so, and fails again if a grant outlives its use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelops.emulator.server import RequestRecord
from modelops.emulator.testing import EmulatorHandle
from modelops.operator.modeldeployment.children import child_name
from modelops.operator.modeldeployment.routes import backend_weights
from modelops.sandbox.crds import HTTPROUTES_CRD
from tests.manifests.kustomize import MANIFESTS, kustomize, one
from tests.operator import drift_fakes
from tests.operator.harness import (
    MV_API,
    bring_up_v1,
    has_condition,
    make_artifact,
    model_deployment,
    model_version,
    operator_emulator,
    play_deployment_controller,
    play_when_created,
    running_operator,
    wait_deployment,
    wait_for,
    wait_object,
)
from tests.operator.validation_jobs import build, holdout_csv, run_validation_job, validated_version

pytestmark = pytest.mark.integration

# Non-resource URLs every authenticated client may read (the default `system:discovery` role).
DISCOVERY = ("/api", "/apis", "/version", "/openapi")


@dataclass(frozen=True, order=True)
class Access:
    group: str
    resource: str  # plural, or plural/subresource
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}"


def access(record: RequestRecord) -> Access | None:
    """The RBAC check a real API server makes for a request; None for discovery paths."""
    parts = record.path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        assert record.path.startswith(DISCOVERY), f"unexpected non-resource request {record}"
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    name = rest[1] if len(rest) > 1 else None
    resource = "/".join([rest[0], *rest[2:3]])
    watching = "watch=true" in record.query or "watch=1" in record.query
    verb = {
        "GET": "get" if name else "watch" if watching else "list",
        "POST": "create", "PUT": "update", "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[record.method]
    return Access(group, resource, verb)


def granted(rules: list[dict[str, Any]]) -> set[Access]:
    return {Access(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def owner_finalizer_grants(k8s: EmulatorHandle) -> set[Access]:
    """`update` on owner/finalizers for every owner a child blocks the deletion of."""
    needed: set[Access] = set()
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("batch/v1", "Job"),
                              ("gateway.networking.k8s.io/v1", "HTTPRoute")):
        for child in k8s.list(api_version, kind):
            for ref in child["metadata"].get("ownerReferences") or ():
                if ref.get("blockOwnerDeletion"):
                    owner = k8s.resource(ref["apiVersion"], ref["kind"])
                    needed.add(Access(owner.group, f"{owner.plural}/finalizers", "update"))
    return needed


def rollout_scenario(k8s: EmulatorHandle, tmp_path: Path) -> None:
    """What the operator does today: verify, serve, roll to a new version, retire the old one,
    act on a one-shot action annotation, and report each decision as an Event."""
    v1, v2 = make_artifact(tmp_path / "v1", seed=1), make_artifact(tmp_path / "v2", seed=2)
    with running_operator(k8s):
        k8s.create(model_version("churn-v1", *v1))
        k8s.create(model_deployment("churn-v1"))
        bring_up_v1(k8s, "churn-v1 Ready")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"replicas": 3}})
        wait_for(lambda: k8s.get("apps/v1", "Deployment", "churn-churn-v1")["spec"]["replicas"] == 3, "scaled")
        play_deployment_controller(k8s, "churn-churn-v1", 3)
        k8s.create(model_version("churn-v2", *v2))
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        play_when_created(k8s, "churn-churn-v2", 3)
        wait_deployment(k8s, "churn-v2 stable", lambda o: o["status"].get("stable") == "churn-v2")
        wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v1") is None, "churn-v1 retired")
        for kind, name in (("ModelVersion", "churn-v1"), ("ModelDeployment", "churn")):
            k8s.patch(MV_API, kind, name, {"metadata": {"annotations": {"modelops.dev/action": "retry"}}})
            wait_for(_action_removed(k8s, kind, name), f"action on {kind} acted on")
        # A version that declares validation: its Job is created, watched, its pods listed.
        built = build(tmp_path / "v3", biased=False)
        k8s.create(validated_version("churn-v3", built, {"holdoutUri": holdout_csv(tmp_path / "holdout.csv")}))
        run_validation_job(k8s, "churn-v3-validate", tmp_path)
        wait_for(lambda: has_condition(k8s.get(MV_API, "ModelVersion", "churn-v3"), "Validated", "True"),
                 "churn-v3 validated")
        drift_scenario(k8s, v1)
        gateway_scenario(k8s)


def gateway_scenario(k8s: EmulatorHandle) -> None:
    """Router GatewayAPI (ModelDeployment `routed`): HTTPRoute `routed` created for churn-v1 (kopf
    watching the kind), patched when churn-v2 takes over, deleted when the router goes back to
    Replicas."""
    gateway = {"parentRefs": [{"name": "public"}]}
    k8s.create(model_deployment("churn-v1", name="routed", router="GatewayAPI", gateway=gateway))
    first, second = child_name("routed", "churn-v1"), child_name("routed", "churn-v2")
    play_when_created(k8s, first, 2)
    wait_object(k8s, MV_API, "ModelDeployment", "routed", lambda o: has_condition(o, "Ready", "True"),
                what="routed Ready behind its HTTPRoute")
    route = "gateway.networking.k8s.io/v1", "HTTPRoute", "routed"
    assert backend_weights(k8s.get(*route)) == {first: 100}
    k8s.patch(MV_API, "ModelDeployment", "routed", {"spec": {"version": "churn-v2"}})
    play_when_created(k8s, second, 2)
    wait_for(lambda: backend_weights(k8s.get(*route)) == {second: 100}, "the route moved to churn-v2")
    k8s.patch(MV_API, "ModelDeployment", "routed", {"spec": {"router": "Replicas", "gateway": None}})
    wait_for(lambda: k8s.find(*route) is None, "the route deleted with router Replicas")


def drift_scenario(k8s: EmulatorHandle, retrained: tuple[str, str]) -> None:
    """A DriftPolicy on churn (stable churn-v2): its replicas' pods listed and scraped, drift
    detected, a retraining Job created and its pod's result read, a ModelVersion created, then
    a manual retrain asked for with the action annotation (removed once acted on)."""
    stable = k8s.get(MV_API, "ModelVersion", "churn-v2")["spec"]["artifact"]["uri"]
    with drift_fakes.replicas(k8s, drift_fakes.load_profile(stable), 1, version="churn-v2") as fakes:
        fakes[0].send(drift_fakes.reference_rows(300, shift=3.0))
        k8s.create(drift_fakes.drift_policy(retrain=drift_fakes.retrain()))
        wait_for(lambda: k8s.find("batch/v1", "Job", "churn-drift-retrain-1"), "the retraining Job")
        drift_fakes.play_job(k8s, "churn-drift-retrain-1", drift_fakes.trainer_result(
            "Succeeded", uri=retrained[0], sha256=retrained[1]))
        wait_for(lambda: k8s.find(MV_API, "ModelVersion", "churn-drift-retrain-1"), "the retrained version")
        retrain = {"metadata": {"annotations": {"modelops.dev/action": "retrain"}}}
        k8s.patch(MV_API, "DriftPolicy", "churn-drift", retrain)
        wait_for(_action_removed(k8s, "DriftPolicy", "churn-drift"), "retrain action acted on")


def _action_removed(k8s: EmulatorHandle, kind: str, name: str) -> Callable[[], bool]:
    return lambda: "modelops.dev/action" not in (k8s.get(MV_API, kind, name)["metadata"].get("annotations") or {})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[Access], set[Access]]:
    tmp_path = tmp_path_factory.mktemp("rbac")
    with operator_emulator(tmp_path, HTTPROUTES_CRD) as k8s:
        k8s.emulator.requests.clear()  # the CRDs were installed by the test, not the operator
        rollout_scenario(k8s, tmp_path)
        used = {a for a in map(access, k8s.requests) if a is not None}
        return used, owner_finalizer_grants(k8s)


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    role: list[dict[str, Any]] = one(kustomize(MANIFESTS / "rbac"), "ClusterRole")["rules"]
    return role


def test_every_request_of_the_operator_is_granted(recorded: tuple[set[Access], set[Access]],
                                                  rules: list[dict[str, Any]]) -> None:
    used, admission = recorded
    missing = sorted(str(a) for a in (used | admission) - granted(rules))
    assert missing == [], f"the operator needs these grants: {missing}"


def test_nothing_is_granted_that_the_operator_does_not_use(recorded: tuple[set[Access], set[Access]],
                                                           rules: list[dict[str, Any]]) -> None:
    used, admission = recorded
    unused = sorted(str(a) for a in granted(rules) - used - admission)
    assert unused == [], f"granted but never used (add a grant in the change that starts using it): {unused}"


def test_children_block_their_owners_deletion_so_finalizers_update_is_needed(
    recorded: tuple[set[Access], set[Access]]
) -> None:
    _, admission = recorded
    assert Access("modelops.dev", "modeldeployments/finalizers", "update") in admission


@pytest.mark.parametrize(("record", "expected"), [
    (RequestRecord("GET", "/apis/apps/v1/namespaces/default/deployments", "watch=true&x=1", 200),
     Access("apps", "deployments", "watch")),
    (RequestRecord("GET", "/apis/apps/v1/deployments", "labelSelector=a", 200), Access("apps", "deployments", "list")),
    (RequestRecord("PATCH", "/apis/modelops.dev/v1alpha1/namespaces/d/modelversions/m/status", "", 200),
     Access("modelops.dev", "modelversions/status", "patch")),
    (RequestRecord("POST", "/api/v1/namespaces/default/events", "", 201), Access("", "events", "create")),
    (RequestRecord("GET", "/api/v1/namespaces/default", "", 200), Access("", "namespaces", "get")),
    (RequestRecord("DELETE", "/api/v1/namespaces/default/services/s", "", 200), Access("", "services", "delete")),
    (RequestRecord("GET", "/apis/apps/v1", "", 200), None),
])
def test_requests_map_to_the_checks_rbac_makes(record: RequestRecord, expected: Access | None) -> None:
    assert access(record) == expected


# -- leader election: the Lease, in the operator's own namespace only ------------------------


@pytest.fixture(scope="module")
def lease_requests(tmp_path_factory: pytest.TempPathFactory) -> list[RequestRecord]:
    """An operator with leader election on: it creates the Lease, renews it, releases it on stop."""
    tmp_path = tmp_path_factory.mktemp("rbac-lease")
    namespace = one(kustomize(MANIFESTS / "rbac"), "Role")["metadata"]["namespace"]
    with operator_emulator(tmp_path) as k8s:
        k8s.create_namespace(namespace)
        k8s.emulator.requests.clear()
        election = {"leader_election": True, "lease_namespace": namespace, "identity": "rbac",
                    "lease_duration_s": 3.0, "renew_deadline_s": 2.0, "retry_period_s": 0.5}
        with running_operator(k8s, **election):
            first = wait_for(lambda: k8s.find("coordination.k8s.io/v1", "Lease", "modelops-operator",
                                              namespace=namespace), "the Lease")
            wait_for(lambda: k8s.get("coordination.k8s.io/v1", "Lease", "modelops-operator", namespace=namespace)
                     ["spec"]["renewTime"] != first["spec"]["renewTime"], "a renewal")
        released = k8s.get("coordination.k8s.io/v1", "Lease", "modelops-operator", namespace=namespace)
        assert released["spec"]["holderIdentity"] == ""
        return [r for r in k8s.requests if "/leases" in r.path]


def test_the_role_grants_exactly_what_leader_election_does(lease_requests: list[RequestRecord]) -> None:
    role = one(kustomize(MANIFESTS / "rbac"), "Role")
    used = {a for a in map(access, lease_requests) if a is not None}
    assert used == granted(role["rules"])
    namespace = role["metadata"]["namespace"]
    assert {r.path.split("/")[5] for r in lease_requests} == {namespace}  # its own namespace, never others


def test_the_cluster_role_grants_no_leases(rules: list[dict[str, Any]]) -> None:
    assert not [a for a in granted(rules) if a.resource == "leases"]

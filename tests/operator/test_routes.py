"""router GatewayAPI without a server: HTTPRoute D as built, and what the reconciler plans with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from modelops.api.modeldeployment import Gateway, ModelDeploymentStatus
from modelops.operator.modeldeployment import routes
from modelops.operator.modeldeployment.children import Owner, child_name
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan
from modelops.operator.plans import Plan
from tests.operator.objects import UID, deployment, model_deployment, model_version, service
from tests.operator.strategies.support import NOW, applied, cond, message, stable_status

OWNER = Owner("churn", "default", UID)
GATEWAY: dict[str, Any] = {"parentRefs": [{"name": "public", "namespace": "infra", "sectionName": "https"}],
                           "hostnames": ["churn.example.com"]}
VERSIONS = [model_version("churn-v1"), model_version("churn-v2")]
STEPS = [{"weight": 20, "pause": "1m"}, {"weight": 50, "pause": "1m"}, {"weight": 80, "pause": "1m"}]
STRATEGY: dict[str, Any] = {"type": "Canary", "canary": {"steps": STEPS},
                            "analysis": {"interval": "30s", "minSamples": 100, "failureLimit": 1},
                            "progressDeadline": "5m", "scaleDownDelay": "0s"}
STARTED = "2026-11-30T11:59:00Z"


def _route(k: dict[str, Any] | None = None, owner: str = UID) -> dict[str, Any]:
    """An HTTPRoute churn as the API server returns it."""
    body = routes.http_route(Owner("churn", "default", owner), "churn", Gateway.model_validate(GATEWAY),
                             routes.Split("churn-v1"))
    body["metadata"]["uid"] = f"uid-route-{owner}"
    return {**body, **(k or {})}


def _run(obj: dict[str, Any], *, deployments: Sequence[dict[str, Any]] = (), services: Sequence[dict[str, Any]] = (),
         found: Sequence[dict[str, Any]] = (), served: bool = True) -> Plan:
    observed = Observed.from_objects(UID, versions=VERSIONS, deployments=deployments, services=services,
                                     routes=found, httproutes_served=served)
    p = plan(obj, observed, image="img:1", now=NOW)
    ModelDeploymentStatus.model_validate(p.status)
    return p


def _gateway_mdep(status: dict[str, Any], version: str = "churn-v2", **spec: Any) -> dict[str, Any]:
    return model_deployment(version=version, replicas=2, router="GatewayAPI", gateway=GATEWAY,
                            strategy={**STRATEGY, **spec.pop("strategy", {})}, status=status, **spec)


def _rolling(step: int, **extra: Any) -> dict[str, Any]:
    return stable_status(phase="Progressing", candidate="churn-v2", step=step, stepStartedAt=STARTED, **extra)


def _both(candidate_ready: int = 2) -> list[dict[str, Any]]:
    return [deployment("churn-churn-v1", "churn-v1", replicas=2, available=2),
            deployment("churn-churn-v2", "churn-v2", replicas=2, available=candidate_ready)]


# -- the builder ----------------------------------------------------------------------------


def test_the_route_is_d_owned_attached_to_the_gateway_for_the_hostnames() -> None:
    route = routes.http_route(OWNER, "churn", Gateway.model_validate(GATEWAY), routes.Split("churn-v1"))
    assert (route["apiVersion"], route["kind"]) == ("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert (route["metadata"]["name"], route["metadata"]["namespace"]) == ("churn", "default")
    assert route["metadata"]["ownerReferences"] == [OWNER.reference()]
    assert route["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "modelops"
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "public", "namespace": "infra", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == ["churn.example.com"]
    only = Gateway.model_validate({"parentRefs": [{"name": "gw"}]})
    bare = routes.http_route(OWNER, "churn", only, routes.Split("churn-v1"))
    assert bare["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}]
    assert bare["spec"]["hostnames"] == []  # written, so that removing hostnames from the spec takes effect


def test_backends_are_the_per_version_services_with_exact_weights() -> None:
    route = routes.http_route(OWNER, "churn", Gateway.model_validate(GATEWAY),
                              routes.Split("churn-v1", "churn-v2", weight=20))
    (rule,) = route["spec"]["rules"]
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "churn-churn-v1", "port": 8080, "weight": 80},
        {"group": "", "kind": "Service", "name": "churn-churn-v2", "port": 8080, "weight": 20},
    ]
    assert rule["filters"] == []
    assert routes.backend_weights(route) == {"churn-churn-v1": 80, "churn-churn-v2": 20}
    alone = routes.http_route(OWNER, "churn", Gateway.model_validate(GATEWAY), routes.Split("churn-v1"))
    assert routes.backend_weights(alone) == {"churn-churn-v1": 100}


def test_backend_names_follow_the_collision_free_child_name_rule() -> None:
    owner = Owner("fraud-detector", "default", UID)
    route = routes.http_route(owner, "fraud", Gateway.model_validate(GATEWAY), routes.Split("v1", "v2", weight=5))
    names = list(routes.backend_weights(route))
    assert names == [child_name("fraud-detector", "v1"), child_name("fraud-detector", "v2")]
    assert all(len(n) <= 63 for n in names)
    assert names[0] != names[1]


def test_shadow_mirrors_its_percent_to_the_candidate_and_routes_users_to_stable_only() -> None:
    route = routes.http_route(OWNER, "churn", Gateway.model_validate(GATEWAY),
                              routes.Split("churn-v1", mirror="churn-v2", mirror_percent=25))
    (rule,) = route["spec"]["rules"]
    assert routes.backend_weights(route) == {"churn-churn-v1": 100}
    assert rule["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"group": "", "kind": "Service", "name": "churn-churn-v2", "port": 8080}, "percent": 25}}]


@pytest.mark.parametrize(("split", "problem"), [
    ({"stable": "a", "candidate": "b", "weight": 101}, "weight 101 is not a percent"),
    ({"stable": "a", "weight": 10}, "weight 10 without a candidate"),
    ({"stable": "a", "mirror": "b"}, "a mirror needs both a version and a percent"),
    ({"stable": "a", "mirror": "b", "mirror_percent": 0}, "mirrorPercent 0 is not a percent"),
])
def test_a_split_that_is_not_one_is_refused_naming_it(split: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        routes.Split(**split)


# -- the reconciler under router GatewayAPI ---------------------------------------------------


@pytest.mark.parametrize(("step", "weight"), [(0, 20), (1, 50), (2, 80)])
def test_each_step_routes_exactly_its_weight_with_full_size_candidate(step: int, weight: int) -> None:
    p = _run(_gateway_mdep(_rolling(step)), deployments=_both(), services=[service("churn", "churn-v1")])
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v1": 100 - weight,
                                                                        "churn-churn-v2": weight}
    assert p.status["weight"] == weight  # exact, not the candidate's share of pods (2 of 4 = 50%)
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2  # spec.replicas, not a share
    assert applied(p, "Deployment", "churn-churn-v1")["spec"]["replicas"] == 2
    # Service D keeps selecting stable only: in-cluster clients are not part of the split
    assert applied(p, "Service", "churn")["spec"]["selector"] == {"app.kubernetes.io/instance": "churn",
                                                                  "modelops.dev/version": "churn-v1"}
    assert applied(p, "Service", "churn-churn-v2")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
    assert f"HTTPRoute weight {weight}%" in message(p, "Progressing")


def test_a_candidate_gets_no_traffic_until_all_its_pods_are_available() -> None:
    p = _run(_gateway_mdep(stable_status()), deployments=_both()[:1])
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v1": 100, "churn-churn-v2": 0}
    assert p.status["weight"] == 0
    assert "the step's 20% once all candidate replicas are available" in message(p, "Progressing")


def test_a_passed_step_moves_the_route_to_the_next_weight() -> None:
    passed = _rolling(0, stepVerdict="Pass")  # its 1m pause has elapsed
    p = _run(_gateway_mdep(passed), deployments=_both())
    assert p.status["step"] == 1
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v1": 50, "churn-churn-v2": 50}


def test_promotion_leaves_only_the_new_stable_backend() -> None:
    last = _rolling(2, stepVerdict="Pass")  # its 1m pause has elapsed
    p = _run(_gateway_mdep(last), deployments=_both())
    assert p.status["stable"] == "churn-v2"
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v2": 100}
    assert applied(p, "HTTPRoute", "churn")["metadata"]["labels"]["modelops.dev/version"] == "churn-v2"
    # at rest too, the backend the route names exists (under router Replicas it would not: D suffices)
    assert applied(p, "Service", "churn-churn-v2")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"


def test_a_rollback_puts_all_traffic_on_stable_at_once() -> None:
    aborting = _gateway_mdep(_rolling(1), annotations={"modelops.dev/action": "abort"})
    p = _run(aborting, deployments=_both())
    assert p.status["phase"] == "RolledBack"
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v1": 100}
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 0


def test_an_ab_test_under_a_gateway_splits_by_its_exact_weight() -> None:
    ab = {"type": "ABTest", "abTest": {"weight": 30, "metric": "errorRate", "minSamples": 10, "minDuration": "1h"}}
    p = _run(_gateway_mdep(_rolling(0), strategy=ab), deployments=_both())
    assert routes.backend_weights(applied(p, "HTTPRoute", "churn")) == {"churn-churn-v1": 70, "churn-churn-v2": 30}
    assert p.status["weight"] == 30


def test_without_httproutes_served_ready_says_gateway_api_missing_and_nothing_rolls_out() -> None:
    obj = _gateway_mdep(stable_status())
    p = _run(obj, deployments=_both()[:1], services=[service("churn", "churn-v1")], served=False)
    assert cond(p, "Ready") == ("False", "GatewayAPIMissing")
    assert "httproutes.gateway.networking.k8s.io" in message(p, "Ready")
    assert "churn-v1 keeps serving (2/2 replicas available)" in message(p, "Ready")
    assert cond(p, "Stalled") == ("True", "GatewayAPIMissing")
    kinds = {(c["kind"], c["metadata"]["name"]) for c in p.apply}
    assert kinds == {("Deployment", "churn-churn-v1"), ("Service", "churn-churn-v1"), ("Service", "churn")}
    assert p.status["stable"] == "churn-v1"
    assert "candidate" not in p.status
    assert p.requeue_after == 30.0  # nothing announces a CRD: discovery is asked again
    assert any(e.reason == "GatewayAPIMissing" and e.type == "Warning" for e in p.events)


def test_a_rollout_in_flight_when_httproutes_go_keeps_the_candidates_children() -> None:
    p = _run(_gateway_mdep(_rolling(1)), deployments=_both(), served=False)
    assert cond(p, "Ready") == ("False", "GatewayAPIMissing")
    assert p.delete == ()
    assert "step" not in p.status


def test_someone_elses_route_named_d_is_a_name_conflict_and_left_alone() -> None:
    foreign = _route(owner="uid-someone-else")
    p = _run(_gateway_mdep(stable_status()), deployments=_both()[:1], found=[foreign])
    assert cond(p, "Ready") == ("False", "NameConflict")
    assert "HTTPRoute default/churn already exists" in message(p, "Ready")
    assert ("HTTPRoute", "churn") not in {(c["kind"], c["metadata"]["name"]) for c in p.apply}
    assert all(kind != "HTTPRoute" for kind, _n, _u in p.delete)


def test_our_route_is_deleted_when_the_router_goes_back_to_replicas() -> None:
    settled = model_deployment(version="churn-v1", replicas=2, status=stable_status())
    p = _run(settled, deployments=_both()[:1], found=[_route()])
    assert ("HTTPRoute", "churn", f"uid-route-{UID}") in p.delete


def test_a_gateway_api_spec_without_gateway_is_invalid_naming_the_field() -> None:
    p = _run(model_deployment(router="GatewayAPI", status=stable_status()), deployments=_both()[:1])
    assert cond(p, "Ready") == ("False", "InvalidSpec")
    assert message(p, "Ready").startswith("spec.gateway: required when spec.router is GatewayAPI")


def test_a_shadow_under_a_gateway_mirrors_through_the_route_not_the_stable_pods() -> None:
    shadow = {"type": "Shadow", "shadow": {"mirrorPercent": 25, "then": "Promote", "minSamples": 10}}
    p = _run(_gateway_mdep(_rolling(0), strategy=shadow), deployments=_both())
    route = applied(p, "HTTPRoute", "churn")
    assert routes.backend_weights(route) == {"churn-churn-v1": 100}  # users only ever see stable's answers
    assert route["spec"]["rules"][0]["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"group": "", "kind": "Service", "name": "churn-churn-v2", "port": 8080}, "percent": 25}}]
    stable_args = applied(p, "Deployment", "churn-churn-v1")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--shadow-url" not in stable_args
    assert applied(p, "Deployment", "churn-churn-v2")["spec"]["replicas"] == 2
    assert p.status["weight"] == 0

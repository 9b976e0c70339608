"""router GatewayAPI end to end against the emulator, with our Gateway API HTTPRoute CRD.

The real operator; the test plays the Deployment controller and serves the replicas' metrics
(``canary_cluster``). Every HTTPRoute the operator writes is validated by the emulator against
the CRD's own schema and CEL rules (and defaulted by it), as a cluster's API server would.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.modeldeployment.routes import backend_weights
from modelops.sandbox.crds import HTTPROUTES_CRD

from .canary_cluster import LIMITS, Replicas, good_traffic, rolled_back, stable_v1, strategy
from .conftest import Artifact
from .harness import (
    MV_API,
    condition,
    create_versions,
    get_mdep,
    has_condition,
    model_deployment,
    running_operator,
    status_of,
    wait_for,
)

pytestmark = pytest.mark.integration

ROUTE_API = "gateway.networking.k8s.io/v1"
GATEWAY: dict[str, Any] = {"parentRefs": [{"name": "public", "namespace": "infra"}],
                           "hostnames": ["churn.example.com"]}
STRATEGY = strategy("Canary", {"maxErrorRate": 0.05})
V1, V2 = "churn-churn-v1", "churn-churn-v2"


def _route(k8s: EmulatorHandle) -> dict[str, Any] | None:
    return k8s.find(ROUTE_API, "HTTPRoute", "churn")


def _weights(k8s: EmulatorHandle) -> dict[str, int] | None:
    route = _route(k8s)
    return backend_weights(route) if route is not None else None


def _failing_candidate(version: str) -> dict[str, Any]:
    """churn-v2 answers one request in five with a 5xx (errorRate fails); churn-v1 is good."""
    return {"ok": 16, "errors": 4, "outputs": (10, 10, 0)} if version == "churn-v2" else good_traffic(version)


def _behind_the_route(replicas: Replicas, artifacts: tuple[Artifact, Artifact], strategy: dict[str, Any]) -> None:
    stable_v1(replicas, artifacts, strategy, "churn-v1 stable behind the route", router="GatewayAPI", gateway=GATEWAY)


def test_a_canary_moves_the_routes_weights_exactly_through_its_steps_then_promotes(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    with running_operator(k8s):
        _behind_the_route(replicas, artifacts, STRATEGY)
        route = _route(k8s)
        assert route is not None
        assert backend_weights(route) == {V1: 100}
        assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                "name": "public", "namespace": "infra"}]
        assert route["spec"]["hostnames"] == ["churn.example.com"]
        # the API server's CRD schema defaulted what we left out: it validated the route
        assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
        owner = route["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("ModelDeployment",
                                                                      get_mdep(k8s)["metadata"]["uid"], True)

        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        seen: list[tuple[int | None, dict[str, int] | None]] = []
        replica_counts: set[int] = set()

        def promoted(o: dict[str, Any]) -> bool:
            seen.append((status_of(o).get("weight"), _weights(k8s)))
            candidate = k8s.find("apps/v1", "Deployment", V2)
            if candidate is not None and status_of(o).get("candidate") == "churn-v2":
                replica_counts.add(int(candidate["spec"]["replicas"]))
            return status_of(o).get("stable") == "churn-v2"

        done = replicas.until(promoted, "churn-v2 promoted")
        splits = [w for _s, w in seen if w is not None and set(w) == {V1, V2}]  # while both are routed
        # exactly the steps' weights, never a pod share (2 of 4 pods would read 50 at step 1)
        assert {w[V2] for w in splits} <= {0, 20, 50}
        assert {(w[V1], w[V2]) for w in splits} >= {(80, 20), (50, 50)}
        assert all(w[V1] + w[V2] == 100 for w in splits)
        assert {s for s, _w in seen if s not in (None, 100)} <= {0, 20, 50}
        assert 20 in {s for s, _w in seen}
        assert replica_counts == {2}  # the candidate runs spec.replicas: the Gateway splits, not the pods
        # Service D kept selecting the stable version all along; now the new one
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v2"
        assert status_of(done)["phase"] == "Stable"
        wait_for(lambda: _weights(k8s) == {V2: 100}, "only the new stable backend")
        wait_for(lambda: k8s.find("v1", "Service", V1) is None, "churn-v1's Service retired")

        k8s.delete(MV_API, "ModelDeployment", "churn")
        wait_for(lambda: _route(k8s) is None, "the HTTPRoute garbage-collected with its owner")


def test_a_rollback_puts_all_traffic_on_stable_at_once(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    replicas.traffic = _failing_candidate
    with running_operator(k8s):
        _behind_the_route(replicas, artifacts, STRATEGY)
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        replicas.until(lambda o: status_of(o).get("weight") == 20, "step 1 at 20%")
        assert _weights(k8s) == {V1: 80, V2: 20}
        rolled_back(replicas, "rolled back on errorRate")
        # the route is written before status: when status says RolledBack, stable already has it all
        assert _weights(k8s) == {V1: 100}
        assert k8s.get("apps/v1", "Deployment", V2)["spec"]["replicas"] == 0


def test_without_the_crd_the_stable_keeps_serving_and_installing_it_later_recovers(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    create_versions(k8s, artifacts)
    k8s.create(model_deployment("churn-v1", strategy=STRATEGY))  # router Replicas: no Gateway API needed
    with running_operator(k8s):
        replicas.until(lambda o: has_condition(o, "Ready", "True"), "churn-v1 stable")
        k8s.patch(MV_API, "ModelDeployment", "churn",
                  {"spec": {"version": "churn-v2", "router": "GatewayAPI", "gateway": GATEWAY}})
        missing = replicas.until(lambda o: has_condition(o, "Ready", "False", "GatewayAPIMissing"),
                                 "GatewayAPIMissing")
        message = (condition(missing, "Ready") or {})["message"]
        assert "httproutes.gateway.networking.k8s.io" in message
        assert "churn-v1 keeps serving" in message
        assert has_condition(missing, "Stalled", "True", "GatewayAPIMissing")
        assert status_of(missing)["stable"] == "churn-v1"
        assert "candidate" not in status_of(missing)
        assert k8s.find("apps/v1", "Deployment", V2) is None  # no rollout step
        assert k8s.get("v1", "Service", "churn")["spec"]["selector"]["modelops.dev/version"] == "churn-v1"
        assert k8s.get("apps/v1", "Deployment", V1)["status"]["availableReplicas"] == 2

        k8s.apply_crds(HTTPROUTES_CRD)  # nothing tells the operator: discovery is asked again
        replicas.until(lambda o: status_of(o).get("weight") == 20, "the canary under way after the CRD")
        assert _weights(k8s) == {V1: 80, V2: 20}
        assert not has_condition(get_mdep(k8s), "Ready", "False", "GatewayAPIMissing")


def test_someone_elses_httproute_named_d_is_a_name_conflict_and_untouched(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    foreign = k8s.create({
        "apiVersion": ROUTE_API, "kind": "HTTPRoute", "metadata": {"name": "churn", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "other"}],
                 "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]},
    })
    create_versions(k8s, artifacts)
    k8s.create(model_deployment("churn-v1", router="GatewayAPI", gateway=GATEWAY, strategy=STRATEGY))
    with running_operator(k8s):
        conflict = replicas.until(lambda o: has_condition(o, "Ready", "False", "NameConflict"), "NameConflict")
        assert "HTTPRoute default/churn already exists" in (condition(conflict, "Ready") or {})["message"]
        replicas.tick()
    after = _route(k8s)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == foreign["metadata"]["resourceVersion"]
    assert after["spec"] == foreign["spec"]
    assert "ownerReferences" not in after["metadata"]


# -- Shadow under the gateway: the route mirrors, the candidate is judged on its own pods' figures --

SHADOW = strategy("Shadow", LIMITS, shadow={"mirrorPercent": 50, "minSamples": 100, "then": "Promote"}, canary=None)


def _mirror(k8s: EmulatorHandle) -> dict[str, Any] | None:
    route = _route(k8s)
    filters = [f for rule in (route or {}).get("spec", {}).get("rules", []) for f in rule.get("filters") or []]
    return next((f["requestMirror"] for f in filters if f.get("type") == "RequestMirror"), None)


def _shadow_of_v2(k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]) -> None:
    _behind_the_route(replicas, artifacts, SHADOW)
    k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
    replicas.until(lambda o: _mirror(k8s) is not None, "the route mirroring to churn-v2")
    mirror = _mirror(k8s)
    assert mirror is not None
    assert (mirror["backendRef"]["name"], mirror["percent"]) == (V2, 50)
    assert _weights(k8s) == {V1: 100}  # users only get the stable's answers
    # no stable pod mirrors: the gateway does, so no --shadow flags roll the stable's pods
    assert all(not any(a.startswith("--shadow") for a in args) for args in replicas.args_seen[V1])


def test_shadow_under_the_gateway_promotes_on_the_candidates_own_figures_agreement_not_measured(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    with running_operator(k8s):
        _shadow_of_v2(k8s, replicas, artifacts)
        done = replicas.until(lambda o: status_of(o).get("stable") == "churn-v2", "churn-v2 promoted after the shadow")
        verdicts = {r["metric"]: r["verdict"] for r in status_of(done)["analysis"]}
        assert verdicts == {"errorRate": "Pass", "latencyP99Ratio": "Pass", "predictionPSI": "Pass",
                            "agreement": "NotMeasured", "shadowErrorRate": "NotMeasured"}
        assert "not measured under router GatewayAPI" in status_of(done)["history"][-1]["reason"]
        wait_for(lambda: _weights(k8s) == {V2: 100} and _mirror(k8s) is None, "the route on churn-v2, no mirror")


def test_shadow_under_the_gateway_rolls_back_on_the_candidates_errors(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    k8s.apply_crds(HTTPROUTES_CRD)
    replicas.traffic = _failing_candidate
    with running_operator(k8s):
        _shadow_of_v2(k8s, replicas, artifacts)
        done = rolled_back(replicas, "rolled back on errorRate")
        assert "errorRate failed in shadow" in (condition(done, "Progressing") or {})["message"]
        assert _weights(k8s) == {V1: 100}
        assert _mirror(k8s) is None  # the route is written before status: the mirror is already gone
        assert k8s.get("apps/v1", "Deployment", V2)["spec"]["replicas"] == 0

"""HTTPRoute ``D`` for ``router: GatewayAPI``, as a pure function of the spec and the traffic split.

Under the Replicas router a canary's share is its share of the ready pods Service ``D``
selects, so weights are approximate (1 of 3 pods is 33%, not 20%). Under GatewayAPI the
split is the Gateway's: HTTPRoute ``D`` (gateway.networking.k8s.io/v1, attached to
``spec.gateway.parentRefs`` for ``spec.gateway.hostnames``) has one rule whose
``backendRefs`` are the per-version Services ``D-<stable>`` and ``D-<candidate>``
(``children.version_service``, port 8080) with weights ``100 - w`` and ``w``: exactly the
step's weight. With no rollout in flight only the stable backend is listed. For Shadow the
rule carries a ``RequestMirror`` filter to the candidate's Service with
``percent: mirrorPercent`` (the Gateway copies that share of requests and drops the
copies' answers, so users only ever see stable's), and the stable pods mirror nothing
themselves (``children.pods_mirror``).

The route is owned like every other child (controller owner reference, so it is
garbage-collected with the ModelDeployment, and an HTTPRoute ``D`` controlled by anything
else is a NameConflict, never overwritten). ``filters`` is always written, empty when
nothing is mirrored, so that a merge patch clears a mirror left from a shadow run
(``kube.ensure`` compares only the fields written).

Service ``D`` keeps existing and selects the stable version only, so in-cluster clients
that call it directly keep working (they do not take part in the split).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops.api.modeldeployment import Gateway
from modelops.operator.modeldeployment.children import SERVING_PORT, Owner, child_name, labels

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "HTTPRoute"
PLURAL = "httproutes"
# What a GatewayAPIMissing condition names: the CRD a cluster needs for the route.
CRD_NAME = f"{PLURAL}.{GROUP}"
TOTAL_WEIGHT = 100


@dataclass(frozen=True)
class Split:
    """Where the route sends traffic: ``candidate`` gets ``weight`` percent of requests (None:
    no rollout in flight), and ``mirror_percent`` of requests are copied to ``mirror``."""

    stable: str
    candidate: str | None = None
    weight: int = 0
    mirror: str | None = None
    mirror_percent: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.weight <= TOTAL_WEIGHT:
            raise ValueError(f"weight {self.weight} is not a percent (0-100)")
        if self.candidate is None and self.weight:
            raise ValueError(f"weight {self.weight} without a candidate")
        if (self.mirror is None) != (self.mirror_percent is None):
            raise ValueError("a mirror needs both a version and a percent")
        if self.mirror_percent is not None and not 0 < self.mirror_percent <= TOTAL_WEIGHT:
            raise ValueError(f"mirrorPercent {self.mirror_percent} is not a percent (1-100)")


def _backend(owner: Owner, version: str) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": child_name(owner.name, version), "port": SERVING_PORT}


def parent_refs(gateway: Gateway) -> list[dict[str, Any]]:
    """spec.gateway.parentRefs as Gateway API ParentReferences (to Gateways, the API's default kind)."""
    out = []
    for ref in gateway.parent_refs:
        parent: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": ref.name}
        if ref.namespace is not None:
            parent["namespace"] = ref.namespace
        if ref.section_name is not None:
            parent["sectionName"] = ref.section_name
        out.append(parent)
    return out


def http_route(owner: Owner, model: str, gateway: Gateway, split: Split) -> dict[str, Any]:
    """HTTPRoute ``D`` sending ``split`` to the per-version Services."""
    backends = [{**_backend(owner, split.stable), "weight": TOTAL_WEIGHT - split.weight}]
    if split.candidate is not None:
        backends.append({**_backend(owner, split.candidate), "weight": split.weight})
    filters: list[dict[str, Any]] = []
    if split.mirror is not None and split.mirror_percent is not None:
        filters.append({"type": "RequestMirror",
                        "requestMirror": {"backendRef": _backend(owner, split.mirror),
                                          "percent": split.mirror_percent}})
    spec: dict[str, Any] = {
        "parentRefs": parent_refs(gateway),
        "hostnames": list(gateway.hostnames),  # written when empty too, so removing them takes effect
        "rules": [{"backendRefs": backends, "filters": filters}],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": owner.name,
            "namespace": owner.namespace,
            "labels": labels(owner.name, model, split.stable),
            "ownerReferences": [owner.reference()],
        },
        "spec": spec,
    }


def backend_weights(route: dict[str, Any]) -> dict[str, int]:
    """Service name -> weight of a route's first rule (what a Gateway splits by)."""
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return {str(b["name"]): int(b.get("weight", 1)) for b in rules[0].get("backendRefs") or ()}

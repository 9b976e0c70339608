"""How a rollout's weight becomes traffic, per ``spec.router``.

- ``Replicas``: Service ``D`` selects both versions' pods, so the candidate's share of traffic
  is its share of the ready pods. It gets ``canary.candidate_replicas(N, weight)`` replicas
  beside stable's ``N``, and ``status.weight`` is the effective share (1 of 3 pods: 33%).
- ``GatewayAPI``: HTTPRoute ``D`` splits requests by its backendRefs' weights (``routes``),
  so the weight is exact and does not depend on pod counts: the candidate runs
  ``spec.replicas`` replicas from the first step (it must carry up to all of the traffic at
  promotion) and ``status.weight`` is the step's weight, once the candidate's pods are all
  available. Until then the route gives it 0: a backend without ready endpoints would
  fail its share of requests.
"""

from __future__ import annotations

from modelops.api.modeldeployment import ModelDeploymentSpec


def exact(spec: ModelDeploymentSpec) -> bool:
    """Whether a Gateway splits traffic by exact weights (else the pods' shares do)."""
    return spec.router == "GatewayAPI"


def routed_weight(step_weight: int, candidate_ready: int, wanted: int) -> int:
    """GatewayAPI: the candidate's backend weight, the step's once its ``wanted`` pods are available."""
    return step_weight if candidate_ready >= wanted else 0

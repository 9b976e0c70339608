"""Prometheus metrics of the operator: reconciles, errors and reconcile duration per kind; drift scores."""

from __future__ import annotations

import contextlib

import prometheus_client

RECONCILES = prometheus_client.Counter(
    "modelops_operator_reconciles", "Reconciles run, by kind and outcome (ok|error).", ["kind", "outcome"]
)
ERRORS = prometheus_client.Counter(
    "modelops_operator_reconcile_errors", "Reconciles that failed and were retried, by kind.", ["kind"]
)
DURATION = prometheus_client.Histogram(
    "modelops_operator_reconcile_duration_seconds",
    "Time one reconcile took (reads, artifact inspection, writes), by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def observe(kind: str, outcome: str, seconds: float) -> None:
    RECONCILES.labels(kind=kind, outcome=outcome).inc()
    if outcome != "ok":
        ERRORS.labels(kind=kind).inc()
    DURATION.labels(kind=kind).observe(seconds)


def serve(port: int, address: str = "0.0.0.0") -> int:
    """Expose /metrics on ``port`` (0: any free port); returns the bound port."""
    server, _thread = prometheus_client.start_http_server(port, addr=address)
    return int(server.server_port)


# DriftPolicies: the last evaluation's score per feature, and whether drift is detected.
DRIFT_SCORE = prometheus_client.Gauge(
    "modelops_drift_score", "Drift score of a feature in a DriftPolicy's last evaluation.",
    ["namespace", "policy", "feature", "method"],
)
DRIFT_DETECTED = prometheus_client.Gauge(
    "modelops_drift_detected", "1 while a DriftPolicy's DriftDetected condition is True.", ["namespace", "policy"]
)
_drift_series: dict[tuple[str, str], set[tuple[str, str]]] = {}


def drift_scores(namespace: str, policy: str, scores: list[tuple[str, str, float]]) -> None:
    """Replace a policy's score series by ``(feature, method, score)``: a feature that left
    the model (or changed method) leaves no stale series behind."""
    current = {(feature, method) for feature, method, _ in scores}
    for feature, method in _drift_series.get((namespace, policy), set()) - current:
        DRIFT_SCORE.remove(namespace, policy, feature, method)
    for feature, method, score in scores:
        DRIFT_SCORE.labels(namespace, policy, feature, method).set(score)
    _drift_series[(namespace, policy)] = current


def drift_detected(namespace: str, policy: str, detected: bool) -> None:
    DRIFT_DETECTED.labels(namespace, policy).set(1 if detected else 0)


def forget_policy(namespace: str, policy: str) -> None:
    drift_scores(namespace, policy, [])
    _drift_series.pop((namespace, policy), None)
    with contextlib.suppress(KeyError):
        DRIFT_DETECTED.remove(namespace, policy)


# Leader election: which replica acts. A standby watches and waits with 0 here.
LEADER = prometheus_client.Gauge(
    "modelops_operator_leader", "1 while this replica holds the leader Lease and reconciles (1 without election)."
)

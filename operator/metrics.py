"""Prometheus metrics of the operator: reconciles, errors and reconcile duration per kind."""

from __future__ import annotations

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

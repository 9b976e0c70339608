"""The operator's run-time options (from `modelops operator` flags, or set by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelops import __version__

DEFAULT_IMAGE = f"ghcr.io/modelops/modelops:{__version__}"


@dataclass(frozen=True)
class Options:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    image: str = DEFAULT_IMAGE
    health_port: int | None = 8081  # kopf's liveness endpoint at /healthz; None: off
    health_address: str = "0.0.0.0"
    metrics_port: int | None = 9090  # Prometheus /metrics; None: off
    metrics_address: str = "0.0.0.0"
    kubeconfig: Path | None = None  # None: in-cluster service account, else $KUBECONFIG
    workers: int = 4
    resync_s: float = 300.0  # every known object is reconciled at least this often
    # On stop, reconciles in flight may finish for this long (within Kubernetes' default 30 s
    # terminationGracePeriodSeconds, which also covers kopf's own cleanup).
    shutdown_grace_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    watch_server_timeout_s: float = 300.0  # watches are re-opened at least this often
    watch_reconnect_backoff_s: float = 1.0
    request_timeout_s: float = 30.0
    artifact_timeout_s: float = 30.0  # per socket operation of an artifact download
    artifact_deadline_s: float = 60.0  # a whole inspection (manifest.json and metadata.json)
    inspection_workers: int = 8  # artifact inspections at once, apart from the reconcile workers
    # Leader election on a coordination.k8s.io/v1 Lease (off: this process always reconciles).
    leader_election: bool = False
    lease_name: str = "modelops-operator"
    lease_namespace: str = "default"
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0
    identity: str | None = None  # None: hostname plus a random suffix
    ready_port: int | None = None  # /readyz (who leads); None: off

    @property
    def all_namespaces(self) -> bool:
        return not self.namespaces

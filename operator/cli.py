"""`modelops operator`: run the kopf operator for ModelVersions and ModelDeployments."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from modelops.api.common import parse_duration
from modelops.operator.options import DEFAULT_IMAGE, Options

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def register(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace", "-n", action="append", dest="namespaces", default=[], metavar="NS",
        help="serve this namespace (repeatable; globs like 'team-*' work)",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="serve every namespace (the default)"
    )
    parser.add_argument(
        "--image", default=os.environ.get("MODELOPS_IMAGE", DEFAULT_IMAGE),
        help=f"image of the serving pods (env MODELOPS_IMAGE; default {DEFAULT_IMAGE})",
    )
    parser.add_argument("--health-port", type=int, default=8081, help="liveness at :PORT/healthz; 0 turns it off")
    parser.add_argument("--health-address", default="0.0.0.0", help="address of the liveness endpoint")
    parser.add_argument("--metrics-port", type=int, default=9090, help="Prometheus at :PORT/metrics; 0 turns it off")
    parser.add_argument("--metrics-address", default="0.0.0.0", help="address of the metrics endpoint")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    parser.add_argument("--workers", type=int, default=4, help="objects reconciled concurrently (default 4)")
    parser.add_argument("--resync", default="5m", help="reconcile every object at least this often (default 5m)")
    parser.add_argument("--shutdown-grace", default="10s",
                        help="on stop, let reconciles in flight finish for this long (default 10s)")
    parser.add_argument("--backoff-max", default="5m", help="longest wait between retries of a failure (default 5m)")
    parser.add_argument(
        "--watch-timeout", default="5m", help="re-open watch streams at least this often (default 5m)"
    )
    parser.add_argument(
        "--artifact-deadline", default="1m",
        help="total time to inspect one artifact (manifest.json and metadata.json) before "
        "ArtifactUnreachable (default 1m)",
    )
    parser.add_argument("--ready-port", type=int, default=8082, help="readiness at :PORT/readyz; 0 turns it off")
    election = parser.add_argument_group("leader election (two or more replicas: only the Lease holder reconciles)")
    election.add_argument("--leader-elect", action="store_true", help="take part in leader election")
    election.add_argument("--leader-election-name", default="modelops-operator", help="the Lease's name")
    election.add_argument(
        "--leader-election-namespace", default=_own_namespace(),
        help="the Lease's namespace (default: $POD_NAMESPACE, else the service account's, else default)",
    )
    election.add_argument("--leader-election-identity", help="this replica's name in the Lease "
                          "(default: the hostname, which is the pod's name, plus a random suffix)")
    election.add_argument("--lease-duration", default="15s", help="a standby takes over this long after the "
                          "last renewal it saw (default 15s)")
    election.add_argument("--renew-deadline", default="10s", help="the leader stops acting if it has not "
                          "renewed for this long (default 10s; below --lease-duration)")
    election.add_argument("--retry-period", default="2s", help="renew / try to acquire this often (default 2s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


def _own_namespace() -> str:
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or "default"
    except OSError:
        return "default"


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from modelops.operator.runner import operate

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        # kopf logs every handler call at INFO; ours only enqueue, so that is noise.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    from modelops.operator.leadership import Timing
    from modelops.operator.runner import LeadershipLostError

    try:
        options = options_from_args(args)
        Timing(options.lease_duration_s, options.renew_deadline_s, options.retry_period_s)
    except ValueError as exc:
        print(f"modelops operator: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(operate(options))
    except LeadershipLostError as exc:
        # As controller-runtime does: exit, so the kubelet restarts this pod as a standby.
        logging.getLogger(__name__).error("%s", exc)
        return 1
    return 0


def options_from_args(args: argparse.Namespace) -> Options:
    return Options(
        namespaces=tuple(args.namespaces),
        image=args.image,
        health_port=args.health_port or None,
        health_address=args.health_address,
        metrics_port=args.metrics_port or None,
        metrics_address=args.metrics_address,
        kubeconfig=args.kubeconfig,
        workers=max(args.workers, 1),
        resync_s=parse_duration(args.resync).total_seconds(),
        shutdown_grace_s=parse_duration(args.shutdown_grace).total_seconds(),
        backoff_max_s=parse_duration(args.backoff_max).total_seconds(),
        watch_server_timeout_s=parse_duration(args.watch_timeout).total_seconds(),
        artifact_deadline_s=max(parse_duration(args.artifact_deadline).total_seconds(), 1.0),
        leader_election=args.leader_elect,
        lease_name=args.leader_election_name,
        lease_namespace=args.leader_election_namespace,
        lease_duration_s=parse_duration(args.lease_duration).total_seconds(),
        renew_deadline_s=parse_duration(args.renew_deadline).total_seconds(),
        retry_period_s=parse_duration(args.retry_period).total_seconds(),
        ready_port=args.ready_port or None,
        identity=args.leader_election_identity,
    )

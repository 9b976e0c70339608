"""`modelops operator`: run the kopf operator for ModelVersions and ModelDeployments."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from modelops.api.common import parse_duration
from modelops.operator.options import DEFAULT_IMAGE, Options


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
    parser.add_argument("--backoff-max", default="5m", help="longest wait between retries of a failure (default 5m)")
    parser.add_argument(
        "--watch-timeout", default="5m", help="re-open watch streams at least this often (default 5m)"
    )
    parser.add_argument(
        "--artifact-deadline", default="1m",
        help="total time to inspect one artifact (manifest.json and metadata.json) before "
        "ArtifactUnreachable (default 1m)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


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
    options = options_from_args(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(operate(options))
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
        backoff_max_s=parse_duration(args.backoff_max).total_seconds(),
        watch_server_timeout_s=parse_duration(args.watch_timeout).total_seconds(),
        artifact_deadline_s=max(parse_duration(args.artifact_deadline).total_seconds(), 1.0),
    )

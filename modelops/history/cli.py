"""`modelops history MODEL`: every version of a model with its lineage and validation figures,
and every rollout decision with its figures and time, oldest first, from the cluster alone.

Exit status: 0 when printed; 1 when the cluster cannot be read, or it holds nothing of MODEL
(no ModelVersion, no ModelDeployment) in the namespace; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the model (spec.model of its ModelVersions)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's, else default)")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")


def run(args: argparse.Namespace) -> int:
    from modelops.history.chain import chain
    from modelops.history.read import ReadError, read
    from modelops.history.render import render

    try:
        objects = read(args.namespace, args.kubeconfig)
    except ReadError as exc:
        print(f"modelops history: {exc}", file=sys.stderr)
        return 1
    history = chain(args.model, objects.namespace, objects.versions, objects.deployments, objects.events)
    if not history.versions and not history.decisions:
        print(f"modelops history: no ModelVersion or ModelDeployment of model {args.model!r} in namespace "
              f"{objects.namespace!r}", file=sys.stderr)
        return 1
    sys.stdout.write(render(history, args.output))
    return 0

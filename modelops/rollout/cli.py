"""``modelops rollout status|promote|abort|retry NAME [-n NS] [--watch] [--kubeconfig FILE]``.

``status`` prints the rollout: phase, stable and candidate, the effective weight, the canary
steps (Shadow: the shadow stage and, with ``then: Canary``, the steps after it; under router GatewayAPI
the route's exact split), the latest analysis figures, conditions and recent history (a rich table on a
terminal, aligned plain text otherwise); ``--watch`` prints it again whenever it changes,
until the rollout settles (Stable, RolledBack, Failed) or Ctrl-C. ``promote``, ``abort`` and
``retry`` set the one-shot annotation ``modelops.dev/action`` that the operator acts on once
and removes (with ``--watch`` they then follow the rollout as ``status`` does).

Exit status: 0 done; 1 the cluster could not be read or written, or the ModelDeployment
does not exist; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

VERBS = ("status", "promote", "abort", "retry")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("verb", choices=VERBS, help="status, or a one-shot action for the operator")
    parser.add_argument("name", metavar="NAME", help="the ModelDeployment")
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's, else default)")
    parser.add_argument("-w", "--watch", action="store_true", help="follow the rollout until it settles")
    parser.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from modelops.rollout.client import Client, RolloutError
    from modelops.rollout.render import DONE_PHASES, plain, rich_tables, summary

    console = Console()
    tty = sys.stdout.isatty()

    def show(obj: dict[str, object]) -> None:
        if tty:
            console.print(summary(obj))
            for table in rich_tables(obj):
                console.print(table)
        else:
            sys.stdout.write(plain(obj))
            sys.stdout.flush()

    try:
        client = Client(args.namespace, args.kubeconfig)
        if args.verb != "status":
            client.act(args.name, args.verb)
            print(f"modeldeployment {client.namespace}/{args.name}: {args.verb} requested "
                  f"(modelops.dev/action={args.verb})")
            if not args.watch:
                return 0
        obj = client.get(args.name)
        show(obj)
        last = obj.get("status")
        while args.watch and ((obj.get("status") or {}).get("phase") not in DONE_PHASES or args.verb != "status"):
            time.sleep(args.interval)
            obj = client.get(args.name)
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if obj.get("status") != last:
                last = obj.get("status")
                if not tty:
                    print("---")
                show(obj)
            if args.verb != "status" and "modelops.dev/action" not in annotations:
                args.verb = "status"  # acted on: follow until it settles
    except RolloutError as exc:
        print(f"modelops rollout: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0

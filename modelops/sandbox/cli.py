"""`modelops sandbox up|demo`: the whole system on one machine, no cluster needed."""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "demo"], help="up: run until Ctrl-C; demo: the guided tour")
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="working directory (default .sandbox)")
    parser.add_argument("--timeout", type=float, default=180.0, help="demo: seconds to wait for Ready")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    workdir: Path = args.dir.resolve()
    if args.action == "demo":
        from modelops.sandbox.demo import run_demo

        return run_demo(workdir, timeout=args.timeout)

    import threading

    from modelops.sandbox.cluster import Sandbox

    with Sandbox(workdir=workdir) as sandbox:
        print(f"sandbox up: export KUBECONFIG={sandbox.kubeconfig}   (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0

"""`modelops sandbox up|down|demo`: the whole system on one machine, no cluster needed.

`up` runs until Ctrl-C, SIGINT or SIGTERM (a terminal's, `kill`'s or a process manager's),
then stops the pods, the operator and the API in that order and exits; its children never
outlive it, even if it is killed (PR_SET_PDEATHSIG). `down --dir DIR` stops the sandbox
running in DIR from another terminal. One sandbox per directory: a second `up` says which
process holds it and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "demo"],
                        help="up: run until Ctrl-C; down: stop the one running in --dir; demo: the guided tour")
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="working directory (default .sandbox)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="demo: seconds the whole loop may take; down: seconds to wait for the stop")
    parser.add_argument("--keep", action="store_true", help="demo: leave the sandbox running afterwards (Ctrl-C stops)")
    parser.add_argument("--fast", action="store_true",
                        help="demo: shorter pauses and intervals (tests; also MODELOPS_DEMO_FAST=1)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    workdir: Path = args.dir.resolve()
    if args.action == "demo":
        from modelops.sandbox.demo import run_demo

        return run_demo(workdir, timeout=args.timeout or 300.0, keep=args.keep, fast=args.fast)
    if args.action == "down":
        return down(workdir, timeout=min(args.timeout or 60.0, 60.0))
    return up(workdir)


def up(workdir: Path) -> int:
    import signal
    import threading

    from modelops.sandbox.cluster import Sandbox, SandboxError

    stop = threading.Event()
    # Handlers that only set a flag: the main loop below notices within half a second and
    # stops everything in order (a KeyboardInterrupt could land anywhere inside a stop).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox = Sandbox(workdir=workdir)
    code = 0
    try:
        sandbox.start()
        print(f"sandbox up: export KUBECONFIG={sandbox.kubeconfig}   (Ctrl-C, or `modelops sandbox down --dir "
              f"{workdir}`, to stop)", flush=True)
        print(f"  pods listen on 127.0.1.N; every Service answers on its ClusterIP ({sandbox.service_network}): "
              "kubectl get svc", flush=True)
        if sandbox.gateway is not None:
            print(f"  gateway: {sandbox.gateway.url} serves the HTTPRoutes of Gateway "
                  f"{sandbox.namespace}/{sandbox.gateway.name}: curl -H 'Host: HOSTNAME' {sandbox.gateway.url}/PATH",
                  flush=True)
        while not stop.wait(0.5):
            sandbox.check_alive()
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        sandbox.stop()
    if code == 0:
        print("sandbox stopped", flush=True)
    return code


def down(workdir: Path, timeout: float) -> int:
    import os
    import signal
    import time

    from modelops.sandbox.lock import holder

    pid = holder(workdir)
    if pid is None:
        print(f"no sandbox is running in {workdir}", flush=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holder(workdir) is None:
            print(f"sandbox in {workdir} (pid {pid}) stopped", flush=True)
            return 0
        time.sleep(0.2)
    # Its children die with it (PR_SET_PDEATHSIG).
    os.kill(pid, signal.SIGKILL)
    print(f"sandbox in {workdir} (pid {pid}) did not stop within {timeout:.0f}s: killed", file=sys.stderr)
    return 1

"""`modelops emulator`: serve the Kubernetes API emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: 0, a free port)")
    parser.add_argument("--kubeconfig", default=".sandbox/kubeconfig",
                        help="where to write a kubeconfig for kubectl (default: .sandbox/kubeconfig)")
    parser.add_argument("--crds", action="append", default=[], metavar="PATH",
                        help="CRD files or directories to install at start (repeatable)")
    parser.add_argument("--pod-logs", type=Path, default=None, metavar="DIR",
                        help="serve pods/log from DIR/<namespace>/<pod>/<container>.log (the sandbox kubelet's files)")
    parser.add_argument("--service-cidr", default="127.0.2.0/24",
                        help="the network Services' ClusterIPs are allocated from (default 127.0.2.0/24)")
    parser.add_argument("--bookmark-interval", type=float, default=20.0,
                        help="seconds between BOOKMARK events on watches that allow them (default: 20)")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from modelops.emulator import kubeconfig
    from modelops.emulator.server import Emulator
    from modelops.emulator.testing import load_manifests

    async def serve() -> None:
        from modelops.emulator.cluster import Cluster

        emulator = Emulator(cluster=Cluster(service_network=args.service_cidr),
                            bookmark_interval=args.bookmark_interval, pod_logs=args.pod_logs)
        for obj in load_manifests(args.crds):
            rt = emulator.cluster.resource(obj["apiVersion"], obj["kind"])
            emulator.cluster.create(rt, obj.get("metadata", {}).get("namespace"), obj)
        url = await emulator.start(args.host, args.port)
        assert emulator.certificate is not None
        path = kubeconfig.write(args.kubeconfig, url, emulator.token, emulator.certificate.cert_pem)
        print(f"Kubernetes API emulator serving on {url}; kubeconfig: {path}", flush=True)
        print(f"  kubectl --kubeconfig {path} get ns", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await emulator.stop()
        print("Kubernetes API emulator stopped.", flush=True)

    asyncio.run(serve())
    return 0

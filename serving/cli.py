"""``modelops serve``: verify a model artifact and serve it over OIP v2 with uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path


def _duration_seconds(value: str) -> int:
    from modelops.api.common import parse_duration

    try:
        seconds = int(value) if value.isdigit() else int(parse_duration(value).total_seconds())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{value!r} is out of range") from None
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least one second")
    return seconds


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", type=Path, required=True, help="artifact directory to verify and serve")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port, logged at start)")
    parser.add_argument("--model-name", help="name in /v2/models/{name} (default: the directory's name)")
    parser.add_argument("--model-version", help="version reported (default: first 12 digits of the sha256)")
    parser.add_argument("--expected-sha256", help="refuse to serve unless manifest.json has this sha256")
    parser.add_argument("--trusted", action="store_true", help="allow joblib/pickle models (digest still checked)")
    parser.add_argument(
        "--allow-version-skew", action="store_true", help="serve even if scikit-learn major.minor differs"
    )
    parser.add_argument("--max-batch-size", type=int, default=32, help="rows per model call (1: no batching)")
    parser.add_argument(
        "--max-batch-latency-ms",
        type=float,
        default=2.0,
        help="longest wait for more requests to join a batch, only while others are in flight",
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=256, help="requests in flight before answering 503"
    )
    parser.add_argument("--drift-bucket-seconds", type=int, default=60, help="time bucket of drift counts")
    parser.add_argument(
        "--drift-window", type=_duration_seconds, default=3600, help="longest drift window kept (e.g. 1h)"
    )
    parser.add_argument("--max-body-bytes", type=int, default=8 << 20, help="larger bodies get 413")
    parser.add_argument(
        "--max-inflight-body-bytes",
        type=int,
        help="bytes of request bodies served at once, past which 503 (default: 32 MiB, at least --max-body-bytes)",
    )
    parser.add_argument(
        "--feedback-capacity", type=int, default=100_000, help="requests remembered for feedback"
    )
    parser.add_argument(
        "--feedback-max-rows", type=int, default=1_000_000, help="rows remembered for feedback, in all"
    )
    parser.add_argument(
        "--feedback-max-bytes", type=int, default=64 << 20, help="bytes the feedback store holds at most"
    )
    parser.add_argument(
        "--feedback-max-request-rows",
        type=int,
        default=65_536,
        help="larger requests are answered but not remembered (the answer says so)",
    )
    parser.add_argument(
        "--graceful-timeout", type=float, default=30.0, help="seconds to drain in-flight requests on SIGTERM"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import socket

    import uvicorn
    from prometheus_client import disable_created_metrics

    from modelops.serving.app import create_app
    from modelops.serving.config import ServingConfig
    from modelops.serving.dataplane import DataPlane

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("modelops.serving")
    disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series double /metrics and no scraper here reads them
    try:
        config = ServingConfig(
            model_dir=args.model_dir,
            model_name=args.model_name,
            model_version=args.model_version,
            expected_sha256=args.expected_sha256,
            trusted=args.trusted,
            allow_version_skew=args.allow_version_skew,
            max_batch_size=args.max_batch_size,
            max_batch_latency_ms=args.max_batch_latency_ms,
            max_concurrency=args.max_concurrency,
            drift_bucket_seconds=args.drift_bucket_seconds,
            drift_window_seconds=args.drift_window,
            max_body_bytes=args.max_body_bytes,
            feedback_capacity=args.feedback_capacity,
            feedback_max_rows=args.feedback_max_rows,
            feedback_max_bytes=args.feedback_max_bytes,
            feedback_max_request_rows=args.feedback_max_request_rows,
            max_inflight_body_bytes=(
                args.max_inflight_body_bytes
                if args.max_inflight_body_bytes is not None
                else max(32 << 20, args.max_body_bytes)
            ),
        )
    except ValueError as exc:
        log.error("invalid options: %s", exc)
        return 2
    app = create_app(DataPlane(config))
    # Binding here (not in uvicorn) lets --port 0 pick a free port that we can log.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1
    sock.listen(2048)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]
    log.info("listening on http://%s:%d", host, port)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=args.graceful_timeout,
            server_header=False,
        )
    )
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal to the handler that was
    # installed before it; this one makes the drained exit a clean 0 instead of -15.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run(sockets=[sock])
    log.info("stopped after draining in-flight requests")
    return 0

"""``modelops serve``: verify a model artifact and serve it over OIP v2 with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
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


def advertise_address(host: str, port: int, pod_ip: str | None) -> str:
    """host:port other replicas reach this one at: the pod's IP (downward API ``POD_IP``),
    else the address listened on when it is a specific one, else the host name's address
    (a pod's host name resolves to its IP)."""
    import socket

    if pod_ip:
        chosen = pod_ip
    elif host not in ("0.0.0.0", "::", ""):
        chosen = host
    else:
        try:
            chosen = socket.gethostbyname(socket.gethostname())
        except OSError:
            chosen = "127.0.0.1"
    return f"[{chosen}]:{port}" if ":" in chosen else f"{chosen}:{port}"


@contextlib.contextmanager
def without_created_series() -> Iterator[None]:
    """prometheus-client's ``*_created`` series off while serving: they double /metrics and
    no scraper here reads them. The switch is process-wide (read whenever a series is made),
    so it is thrown only around serving and put back after: whatever else runs in the same
    process (tests, an embedding program) keeps its own setting."""
    from prometheus_client import disable_created_metrics, enable_created_metrics
    from prometheus_client import metrics as prometheus_metrics

    before = prometheus_metrics._use_created
    disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if before:
            enable_created_metrics()  # type: ignore[no-untyped-call]


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
        "--no-direct-predictors",
        dest="direct_predictors",
        action="store_false",
        help="predict with scikit-learn even where a direct predictor is proven equal (for comparisons)",
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
        "--advertise-address",
        help="host:port other replicas reach this one at, named in feedback ids (default: $POD_IP "
        "and the port; else the --host address if specific, else this host name's address)",
    )
    parser.add_argument(
        "--feedback-forward-timeout", type=float, default=2.0,
        help="seconds to wait for the replica that made a prediction to score feedback sent on to it",
    )  # fmt: skip
    parser.add_argument("--shadow-url", help="mirror a share of infer requests to this candidate base URL")
    parser.add_argument(
        "--shadow-percent", type=float, default=0.0, help="share of infer requests mirrored, in (0, 100]"
    )
    parser.add_argument("--shadow-version", help="the candidate's version (label candidate of the shadow metrics)")
    parser.add_argument(
        "--shadow-queue", type=int, default=64, help="mirrored requests waiting at most; more are dropped"
    )
    parser.add_argument(
        "--shadow-timeout", type=float, default=5.0, help="seconds the candidate has to answer a mirrored request"
    )
    parser.add_argument(
        "--graceful-timeout", type=float, default=30.0, help="seconds to drain in-flight requests on SIGTERM"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging
    import signal
    import socket

    import uvicorn

    from modelops.serving.app import create_app
    from modelops.serving.config import ServingConfig
    from modelops.serving.dataplane import DataPlane
    from modelops.serving.feedback_ids import key_from_env

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("modelops.serving")
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
            feedback_key=key_from_env(),
            feedback_forward_timeout_seconds=args.feedback_forward_timeout,
            shadow_url=args.shadow_url,
            shadow_percent=args.shadow_percent,
            shadow_version=args.shadow_version,
            shadow_queue=args.shadow_queue,
            shadow_timeout_seconds=args.shadow_timeout,
            direct_predictors=args.direct_predictors,
        )
    except ValueError as exc:
        log.error("invalid options: %s", exc)
        return 2
    if (args.shadow_percent or args.shadow_version) and not args.shadow_url:
        log.error("invalid options: --shadow-percent and --shadow-version need --shadow-url")
        return 2
    # Binding first (not in uvicorn) lets --port 0 pick a free port that we log and name in
    # feedback ids.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1
    host, port = sock.getsockname()[:2]
    advertised = args.advertise_address or advertise_address(host, port, os.environ.get("POD_IP"))
    config = dataclasses.replace(config, advertise_address=advertised)
    if config.feedback_key is None:
        log.warning(
            "MODELOPS_FEEDBACK_KEY is not set: feedback ids are signed with a key of this process "
            "alone, so feedback for this replica's predictions is scored only when posted to it"
        )
    app = create_app(DataPlane(config))
    sock.listen(2048)
    sock.set_inheritable(True)
    log.info("listening on http://%s:%d", host, port)
    log.info("feedback ids name this replica as %s", advertised)
    if config.shadow_url is not None:
        log.info(
            "mirroring %g%% of infer requests to %s (version %s)",
            config.shadow_percent, config.shadow_url, config.shadow_version,
        )  # fmt: skip
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
    with without_created_series():  # the metrics are made once the model is loaded, in there
        server.run(sockets=[sock])
    log.info("stopped after draining in-flight requests")
    return 0

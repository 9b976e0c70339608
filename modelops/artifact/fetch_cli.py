"""`modelops fetch`: download an artifact and verify every file (the init container)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uri", required=True, help="artifact directory: path, file://, http(s)://, s3://…")
    parser.add_argument("--sha256", required=True, help="expected artifact digest: sha256 of manifest.json")
    parser.add_argument("--dest", required=True, type=Path, help="directory to fetch into")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout per socket operation, seconds")
    parser.add_argument(
        "--deadline", type=_positive, default=None,
        help="total time for the whole download, seconds (default 1800); past it: ArtifactUnreachable",
    )
    parser.add_argument(
        "--termination-log",
        default=DEFAULT_TERMINATION_LOG,
        help="on failure, also write the error here when the file exists (Kubernetes shows it "
        "as the container's termination message)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"the deadline must be a positive number of seconds, not {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from modelops.artifact.errors import ArtifactError
    from modelops.artifact.fetching import fetch
    from modelops.artifact.sources import DEFAULT_FETCH_DEADLINE_S

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"modelops fetch: {message}", file=sys.stderr, flush=True)

    try:
        manifest = fetch(
            args.uri, args.sha256, args.dest, timeout_s=args.timeout, progress=progress,
            deadline_s=args.deadline or DEFAULT_FETCH_DEADLINE_S,
        )
    except ArtifactError as exc:
        line = f"{exc.reason}: {exc.message}"
    except OSError as exc:
        line = f"ArtifactNotFound: cannot write into {args.dest}: {exc}"
    else:
        print(manifest.digest)
        return 0
    print(f"modelops fetch: error: {line}", file=sys.stderr, flush=True)
    _write_termination_log(args.termination_log, line)
    return 1


def _write_termination_log(path: str, line: str) -> None:
    target = Path(path)
    if target.is_file():
        # The message is on stderr already; this copy is a convenience.
        with contextlib.suppress(OSError):
            target.write_text(line + "\n", encoding="utf-8")

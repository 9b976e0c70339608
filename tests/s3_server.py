"""One S3 endpoint on 127.0.0.1 for the tests that read or write s3:// (moto's server mode,
not a mock of fsspec), used by the trainer's and the validator's round trips.

moto keeps its buckets in process-wide backends, so a second server started in the same
test process sees the first one's buckets: every use starts by resetting that state, and
the buckets it needs are created afresh.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_endpoint(*buckets: str) -> Iterator[Any]:
    """An s3fs filesystem on a fresh moto server holding just ``buckets``; s3fs (and the
    code under test, through fsspec) reach it through the standard ``AWS_ENDPOINT_URL``, as
    a Job's pod would be configured."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto[server] is in the dev extra
        pytest.skip("moto[server] is not installed (pip install -e '.[dev]')")
    import fsspec

    s3fs = fsspec.get_filesystem_class("s3")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        s3fs.clear_instance_cache()  # none configured for another endpoint
        try:
            reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            with urllib.request.urlopen(reset, timeout=10):
                pass
            fs = s3fs()
            for bucket in buckets:
                fs.mkdir(bucket)
            yield fs
        finally:
            s3fs.clear_instance_cache()
            server.stop()

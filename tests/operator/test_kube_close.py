"""Kube.close waits for its connections to close, even one a cancelled request left closing:
no socket outlives the event loop (a ResourceWarning, an error under filterwarnings=error)."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.kube import DEPLOYMENTS, Connection, Kube


async def _cancel_mid_flight_then_close(k8s: EmulatorHandle, requests: int) -> None:
    kube = Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context))
    await kube.get(DEPLOYMENTS, "default", "warm")  # one pooled connection as well
    tasks = [asyncio.create_task(kube.get(DEPLOYMENTS, "default", "slow")) for _ in range(requests)]
    await asyncio.sleep(0.05)  # the requests are sent; the API server is busy in the hook
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await kube.close()


def test_close_after_requests_cancelled_mid_flight_leaves_no_socket_open(k8s: EmulatorHandle) -> None:
    # The API server is busy for a while with each of these requests: the client gives up on
    # them, and the TLS close of their connections waits for the server's turn to answer.
    k8s.emulator.faults.before("GET", r"/deployments/slow$", lambda: time.sleep(0.4), times=6)
    for _ in range(2):  # its own event loop, closed at the end, as the operator's is
        asyncio.run(_cancel_mid_flight_then_close(k8s, requests=3))
    unraisable: list[Any] = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    left_open = [u for u in unraisable if isinstance(u.exc_value, ResourceWarning)]
    assert left_open == [], [str(u.exc_value) for u in left_open]

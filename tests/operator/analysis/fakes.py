"""Small fake serving pods and a fake Prometheus, as real HTTP servers on 127.0.0.1.

A ``FakePod`` exposes the real serving metrics (``modelops.serving.metrics.ServingMetrics``,
plus the shadow series analysis expects, when asked) and a ``/drift`` answer with output
counts; a ``FakePrometheus`` answers instant queries with canned vectors.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from modelops.operator.analysis.sources import PodTarget
from modelops.serving.metrics import ServingMetrics

HOST = "127.0.0.1"


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


class _Server:
    def __init__(self) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class FakePod(_Server):
    def __init__(self, name: str, version: str, *, model: str = "churn", shadow_of: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.version = version
        self.model = model
        self.shadow_of = shadow_of  # the candidate this (stable) pod mirrors to
        self.metrics_status = 200
        self.drift_status = 200
        self.delay = 0.0
        self.garbage = False
        self.windows: list[str] = []
        self.summed: list[str] = []  # each /drift request's summed parameter ("" if absent)
        self.max_window: int | None = None  # the pod's --drift-window, in seconds
        self.restart()
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/v2/models/{model}/drift", self._drift)

    def restart(self) -> None:
        """A new process: every counter starts again from zero."""
        # the real serving metrics, shadow series included when this pod mirrors (the same
        # ShadowMetrics a `modelops serve --shadow-*` pod exports: names cannot drift apart)
        self.m = ServingMetrics(self.model, self.version, self.shadow_of)
        self.outputs = [0, 0, 0]

    @property
    def target(self) -> PodTarget:
        return PodTarget(name=self.name, ip=HOST, version=self.version, port=self.port)

    def serve(
        self,
        *,
        ok: int = 0,
        errors: int = 0,
        seconds: float = 0.004,
        outputs: tuple[int, int, int] = (0, 0, 0),
        labelled: int = 0,
        correct: int = 0,
    ) -> None:
        for _ in range(ok):
            self.m.request(200, seconds)
        for _ in range(errors):
            self.m.request(500, seconds)
        self.outputs = [a + b for a, b in zip(self.outputs, outputs, strict=True)]
        if labelled:
            self.m.feedback(labelled, correct, correct / labelled)

    def mirror(self, *, answered: int, errors: int, rows: int, agreed: int, seconds: float = 0.005) -> None:
        shadow = self.m.shadow
        assert shadow is not None, "only a pod made with shadow_of mirrors"
        shadow.outcomes["answered"].inc(answered)
        shadow.outcomes["error"].inc(errors)
        shadow.rows.inc(rows)
        shadow.agreed.inc(agreed)
        for _ in range(answered):
            shadow.latency.observe(seconds)

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.garbage:
            return web.Response(text='modelops_requests_total{code="200" 1\n')
        if self.metrics_status != 200:
            return web.Response(status=self.metrics_status, text="boom")
        return web.Response(body=self.m.exposition(), content_type="text/plain")

    async def _drift(self, request: web.Request) -> web.Response:
        self.windows.append(request.query.get("window", ""))
        self.summed.append(request.query.get("summed", ""))
        if request.match_info["model"] != self.model:
            return web.json_response({"error": "unknown model"}, status=404)
        if self.max_window is not None and int(request.query["window"]) > self.max_window:
            return web.json_response({"error": "window is longer than this server keeps"}, status=400)
        if self.drift_status != 200:
            return web.json_response({"error": "window too long"}, status=self.drift_status)
        rows = sum(self.outputs)
        buckets = [{"start": 60, "rows": rows, "features": [[rows]], "output": self.outputs}] if rows else []
        return web.json_response(
            {
                "model": self.model,
                "version": self.version,
                "layoutDigest": "ab" * 32,
                "bucketSeconds": 60,
                "start": 0,
                "end": 120,
                "features": ["x"],
                "bins": [1],
                "outputBins": 3,
                "buckets": buckets,
            }
        )


Vector = list[tuple[dict[str, str], float]]


class FakePrometheus(_Server):
    """Answers ``/api/v1/query`` with ``answer(promql)``: a vector, or (status, JSON body)."""

    def __init__(self, answer: Callable[[str], Vector | tuple[int, dict[str, Any]]]) -> None:
        super().__init__()
        self.answer = answer
        self.queries: list[str] = []
        self.app.router.add_get("/api/v1/query", self._query)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def _query(self, request: web.Request) -> web.Response:
        promql = request.query["query"]
        self.queries.append(promql)
        got = self.answer(promql)
        if isinstance(got, tuple):
            status, body = got
            return web.json_response(body, status=status)
        result = [{"metric": labels, "value": [1764504000.0, repr(value)]} for labels, value in got]
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": result}})

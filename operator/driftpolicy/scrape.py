"""Fetching the serving replicas' ``/drift`` counts and ``/metrics``: one aiohttp session per
evaluation, a timeout per request, at most ``concurrency`` requests in flight and one
deadline for them all (a slow replica cannot hold a worker longer than that). A replica
that does not answer in time, or answers with an error, is named with why.

``/drift`` is asked with ``summed=true``: one bucket per replica however long the window
(an hour of per-minute buckets from 20 replicas is megabytes of JSON), and counts add, so
the sum is exact. A replica too old to know the parameter ignores it and answers the
buckets, which merge the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from modelops.operator.driftpolicy.observe import ServingPod

MAX_BODY_BYTES = 64 << 20


@dataclass(frozen=True)
class ScrapeLimits:
    per_pod_s: float = 5.0
    deadline_s: float = 20.0
    concurrency: int = 16


@dataclass
class Scraped:
    drift: dict[str, bytes] = field(default_factory=dict)  # pod -> /drift body
    metrics: dict[str, str] = field(default_factory=dict)  # pod -> /metrics text
    failed: dict[str, str] = field(default_factory=dict)  # pod -> why


async def scrape(pods: Sequence[ServingPod], model: str, window: str, *, metrics: bool,
                 limits: ScrapeLimits = ScrapeLimits()) -> Scraped:
    out = Scraped()
    gate = asyncio.Semaphore(limits.concurrency)
    timeout = aiohttp.ClientTimeout(total=limits.per_pod_s)
    drift_path = f"/v2/models/{quote(model, safe='')}/drift"

    async def one(session: aiohttp.ClientSession, pod: ServingPod) -> None:
        async with gate:
            try:
                query = {"window": window, "summed": "true"}
                out.drift[pod.name] = await _get(session, f"{pod.url}{drift_path}", query)
                if metrics:
                    out.metrics[pod.name] = (await _get(session, f"{pod.url}/metrics", None)).decode()
            except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError, _RefusedError) as exc:
                out.drift.pop(pod.name, None)
                out.failed[pod.name] = str(exc) or type(exc).__name__

    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = {pod.name: asyncio.create_task(one(session, pod)) for pod in pods}
        _, pending = await asyncio.wait(tasks.values(), timeout=limits.deadline_s) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for name, task in tasks.items():
            if task in pending:
                out.drift.pop(name, None)
                out.metrics.pop(name, None)
                out.failed[name] = f"no answer within the {limits.deadline_s:g}s deadline"
    return out


class _RefusedError(Exception):
    pass


async def _get(session: aiohttp.ClientSession, url: str, params: dict[str, str] | None) -> bytes:
    async with session.get(url, params=params) as response:
        body = await response.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise _RefusedError(f"GET {url}: body over {MAX_BODY_BYTES} bytes")
        if response.status != 200:
            raise _RefusedError(f"GET {url} answered HTTP {response.status}: {body[:200].decode(errors='replace')}")
        return body

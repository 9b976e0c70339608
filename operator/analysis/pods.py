"""The ``Pods`` metrics source: scrape the serving replicas directly (no Prometheus).

For every pod the caller listed (``Query.pods``, found through the API by the
deployment's labels), at ``http://<podIP>:8080``:

- ``GET /metrics``: requests by code, the latency histogram, feedback labelled/correct
  counters, shadow counters (see ``names``), parsed by ``exposition.parse``. Cumulative:
  the interval is the difference with this source's previous scrape of the same pod
  (``samples.increase_between``: counter resets and new pods handled there).
- ``GET /v2/models/{model}/drift?window=<interval + 1s>&summed=true``: the output bin
  counts of the pod's own version over the window (summed into one bucket: only the
  totals are used, and a long interval then costs one bucket, not one per minute). The
  sketch answers whole buckets *including the
  current, partly filled one*, so asking for one second more than the interval covers
  at least the whole interval (a 60 s window on 60 s buckets would be the current bucket
  alone, possibly a few seconds of traffic). A pod that keeps less than that (HTTP 400,
  ``--drift-window`` shorter) is asked again for the interval itself. Bins are compared by index between versions
  (``layout`` ``drift:<outputBins>``): exact for classifiers with the same classes; a
  regressor's output bins are each version's own reference quantiles.

A pod that cannot be scraped (refused, timeout, not 200, unparsable) is reported in
``Observation.failures`` and left out; its previous scrape is kept, so when it answers
again its increase covers everything since. A failed ``/drift`` alone only removes that
pod's output counts (a note says so). Scrapes run concurrently (``concurrency`` at a
time), each pod within ``pod_timeout`` and the whole observation within ``deadline``;
pods still pending at the deadline are reported as failures.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiohttp
import orjson

from modelops.drift.counts import CountsError, DriftCounts
from modelops.operator.analysis import samples
from modelops.operator.analysis.exposition import ExpositionError, parse
from modelops.operator.analysis.samples import Cumulative, Increases, OutputCounts, VersionSample
from modelops.operator.analysis.sources import Observation, PodTarget, Query, SourceFailure

SERVING_PORT = 8080  # modelops.operator.modeldeployment.children.SERVING_PORT


@dataclass(frozen=True)
class _Outputs:
    version: str
    counts: OutputCounts


@dataclass(frozen=True)
class PodScrape:
    pod: PodTarget
    metrics: Cumulative | None = None
    outputs: _Outputs | None = None
    failure: str | None = None  # the pod could not be scraped
    note: str | None = None  # /drift failed; metrics still count


@dataclass
class _Memory:
    pods: dict[str, Cumulative]
    at: float


class PodsSource:
    def __init__(
        self,
        *,
        port: int = SERVING_PORT,
        pod_timeout: float = 3.0,
        deadline: float = 10.0,
        concurrency: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if pod_timeout <= 0 or deadline <= 0 or concurrency < 1:
            raise ValueError("pod_timeout and deadline must be positive, concurrency at least 1")
        self.port = port
        self.pod_timeout = pod_timeout
        self.deadline = deadline
        self.concurrency = concurrency
        self._clock = clock
        self._memory: dict[tuple[str, str], _Memory] = {}

    def forget(self, namespace: str, deployment: str) -> None:
        """Drop the previous scrape of a deployment (its rollout ended or it was deleted)."""
        self._memory.pop((namespace, deployment), None)

    async def observe(self, query: Query) -> Observation:
        scrapes = await self.scrape_all(query)
        now = self._clock()
        memory = self._memory.get(query.key)
        current = {s.pod.name: s.metrics for s in scrapes if s.metrics is not None}
        failures = tuple(
            SourceFailure(target=s.pod.name, reason=s.failure, version=s.pod.version)
            for s in scrapes
            if s.failure is not None
        )
        # next baseline: this scrape, plus the last good one of pods that failed now
        listed = {p.name for p in query.pods}
        kept = {name: c for name, c in (memory.pods if memory else {}).items() if name in listed}
        self._memory[query.key] = _Memory(pods={**kept, **current}, at=now)
        notes = [s.note for s in scrapes if s.note]
        if failures:
            notes.append(
                f"{len(failures)} of {len(query.pods)} pods not scraped: "
                + ", ".join(f"{f.target} ({f.reason})" for f in failures)
            )
        if memory is None:
            return Observation(
                source="Pods", failures=failures, notes=tuple(notes), scraped=len(current), baseline=True
            )
        increases: list[Increases] = []
        for name, cumulative in current.items():
            inc = samples.increase_between(memory.pods.get(name), cumulative)
            if inc is not None:
                increases.append(inc)
        families = frozenset().union(*(c.families for c in current.values()))
        built = samples.build(samples.add(increases), families)
        versions = _with_outputs(built.versions, [s.outputs for s in scrapes if s.outputs is not None])
        notes.extend(built.problems)
        return Observation(
            source="Pods",
            versions=versions,
            shadow=built.shadow,
            failures=failures,
            notes=tuple(notes),
            scraped=len(current),
            seconds=now - memory.at,
        )

    async def scrape_all(self, query: Query) -> list[PodScrape]:
        """One scrape of every listed pod; never raises for a pod."""
        if not query.pods:
            return []
        gate = asyncio.Semaphore(self.concurrency)
        seconds = math.ceil(query.interval.total_seconds())
        windows = (f"{seconds + 1}", f"{seconds}")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.pod_timeout)) as session:
            tasks = [asyncio.create_task(self._scrape(session, gate, pod, query.model, windows)) for pod in query.pods]
            try:
                done, _pending = await asyncio.wait(tasks, timeout=self.deadline)
            finally:
                # Also when this observation is cancelled (an operator stopping): no scrape may
                # outlive the session, or its connection is left open.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        out: list[PodScrape] = []
        for pod, task in zip(query.pods, tasks, strict=True):
            if task in done:
                out.append(task.result())
            else:
                out.append(PodScrape(pod, failure=f"no answer within the {self.deadline:g}s deadline"))
        return out

    async def _scrape(
        self,
        session: aiohttp.ClientSession,
        gate: asyncio.Semaphore,
        pod: PodTarget,
        model: str,
        windows: tuple[str, str],
    ) -> PodScrape:
        async with gate:
            base = f"http://{_host(pod.ip)}:{pod.port or self.port}"
            drift_url = f"{base}/v2/models/{model}/drift"
            metrics, drift = await asyncio.gather(
                _get(session, f"{base}/metrics", self.pod_timeout),
                _get(session, drift_url, self.pod_timeout, {"window": windows[0], "summed": "true"}),
            )
            if isinstance(drift, str) and drift.startswith("HTTP 400"):
                drift = await _get(session, drift_url, self.pod_timeout, {"window": windows[1], "summed": "true"})
        if isinstance(metrics, str):
            return PodScrape(pod, failure=f"/metrics: {metrics}")
        try:
            cumulative = parse(metrics.decode("utf-8", "replace"))
        except ExpositionError as exc:
            return PodScrape(pod, failure=f"/metrics: {exc}")
        if isinstance(drift, str):
            return PodScrape(pod, metrics=cumulative, note=f"{pod.name}: no output counts, /drift: {drift}")
        try:
            counts = DriftCounts.from_json(orjson.loads(drift))
        except (orjson.JSONDecodeError, CountsError) as exc:
            return PodScrape(pod, metrics=cumulative, note=f"{pod.name}: no output counts, /drift: {exc}")
        totals = counts.output_totals()
        outputs = OutputCounts(f"drift:{counts.output_bins}", {str(i): int(c) for i, c in enumerate(totals)})
        return PodScrape(pod, metrics=cumulative, outputs=_Outputs(counts.version, outputs))


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


async def _get(
    session: aiohttp.ClientSession, url: str, timeout: float, params: dict[str, str] | None = None
) -> bytes | str:
    """The body of a 200 answer, or a short reason why there is none."""
    try:
        async with asyncio.timeout(timeout), session.get(url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                return f"HTTP {response.status} {body[:200].decode('utf-8', 'replace')}".strip()
            return body
    except TimeoutError:
        return f"timed out after {timeout:g}s"
    except aiohttp.ClientError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _with_outputs(versions: dict[str, VersionSample], outputs: list[_Outputs]) -> dict[str, VersionSample]:
    """The versions' samples with the ``/drift`` output counts in place of class counts
    (replicas of one version reporting different output layouts: no output counts)."""
    merged: dict[str, OutputCounts | None] = {}
    for o in outputs:
        seen = merged.get(o.version, o.counts.empty_like())
        merged[o.version] = seen + o.counts if seen is not None and seen.layout == o.counts.layout else None
    return {
        version: replace(versions.get(version) or VersionSample(version=version), outputs=merged.get(version))
        for version in set(versions) | set(merged)
    }

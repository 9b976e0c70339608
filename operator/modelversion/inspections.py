"""Artifact inspections, run in a bounded pool of their own, apart from the reconcile workers.

An inspection downloads two small files, but from a server the operator does not control:
one that trickles bytes would hold whatever runs it until the download deadline. So a
reconcile worker only starts an inspection (or finds the one already running for that
ModelVersion and spec), waits for it briefly, and goes back to the queue if it is not done;
when it ends, the pool wakes the ModelVersion's key, and the next reconcile takes the
outcome. At most ``workers`` inspections download at once; more wait in the pool's queue,
and each one's deadline starts when it starts downloading.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from modelops.artifact.sources import DEFAULT_INSPECTION_DEADLINE_S, DEFAULT_TIMEOUT_S
from modelops.operator.modelversion import verify
from modelops.operator.modelversion.reconcile import Outcome, Verify

log = logging.getLogger(__name__)

Wake = Callable[[str, str], None]  # (namespace, name) of the ModelVersion to look at again


@dataclass(frozen=True)
class _Job:
    request: Verify
    future: Future[Outcome]


class Inspections:
    def __init__(
        self,
        workers: int = 4,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        deadline_s: float = DEFAULT_INSPECTION_DEADLINE_S,
        wake: Wake | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"inspections need at least one worker, not {workers}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.wake = wake
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelops-inspect")
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._lock = threading.Lock()

    def start(self, namespace: str, name: str, request: Verify) -> Future[Outcome]:
        """The inspection of this ModelVersion for this request: the one already started, or a new one.
        A request that changed (a new spec) starts afresh; the stale one ends by its deadline."""
        with self._lock:
            job = self._jobs.get((namespace, name))
            if job is not None and job.request == request:
                return job.future
            future = self._pool.submit(self._inspect, request)
            self._jobs[(namespace, name)] = _Job(request, future)
        future.add_done_callback(lambda _f: self._woken(namespace, name))
        return future

    def take(self, namespace: str, name: str, request: Verify) -> Outcome | None:
        """The finished inspection's outcome (handed out once), or None while it runs."""
        with self._lock:
            job = self._jobs.get((namespace, name))
            if job is None or job.request != request or not job.future.done():
                return None
            del self._jobs[(namespace, name)]
        return job.future.result()

    def running(self) -> int:
        with self._lock:
            return sum(1 for job in self._jobs.values() if not job.future.done())

    def close(self) -> None:
        # Running downloads end by their deadline; nothing waits for them.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _inspect(self, request: Verify) -> Outcome:
        try:
            return verify.inspect(request, self.timeout_s, self.deadline_s)
        except Exception as exc:  # a bug, not the artifact's fault: retried with backoff
            log.exception("inspecting %s failed", request.uri)
            return Outcome(reason="ArtifactNotFound", message=f"inspecting {request.uri} failed: {exc!r}")

    def _woken(self, namespace: str, name: str) -> None:
        if self.wake is not None:
            try:
                self.wake(namespace, name)
            except Exception:  # the loop is closing: the periodic resync looks again anyway
                log.debug("could not wake ModelVersion %s/%s", namespace, name, exc_info=True)

"""Workers that reconcile the keys kopf's event handlers enqueue.

Routing (which keys an event concerns) and handling (run a reconcile, retry with backoff
on failure, look again when the plan asks) live here; decisions live in the kinds' pure
``reconcile`` modules. Nothing here is state the operator needs to resume: the queue is
refilled from the initial listing kopf does on start, and a periodic resync re-enqueues
every known object in case a watch event was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from modelops.operator import metrics
from modelops.operator.context import Context
from modelops.operator.driftpolicy.sync import sync as sync_policy
from modelops.operator.kube import BY_KIND, MODEL_DEPLOYMENTS, MODEL_VERSIONS, ApiError, ApiUnavailable
from modelops.operator.modeldeployment.sync import sync as sync_deployment
from modelops.operator.modelversion.inspections import Inspections
from modelops.operator.modelversion.sync import sync as sync_version
from modelops.operator.plans import Plan
from modelops.operator.versioncache import VersionCache, looked_at
from modelops.operator.workqueue import Backoff, Key, WorkQueue

log = logging.getLogger(__name__)

MODEL_VERSION = "ModelVersion"
MODEL_DEPLOYMENT = "ModelDeployment"
DRIFT_POLICY = "DriftPolicy"
Sync = Callable[[Context, str, str], Awaitable[Plan | None]]
# A ModelDeployment put off for a version's first look (see `_put_off`) is looked at anyway this
# long after that version's reconcile ended, should its status write not come back as an event.
PUT_OFF_FALLBACK_S = 1.0


class Controller:
    def __init__(
        self,
        context_factory: Callable[[], Awaitable[Context]],
        *,
        workers: int = 4,
        resync_s: float = 300.0,
        backoff: Backoff | None = None,
        inspections: Inspections | None = None,
    ) -> None:
        self._context_factory = context_factory
        self._context: Context | None = None
        self.queue = WorkQueue(backoff)
        # Artifact downloads run apart from the workers; one that ends wakes its ModelVersion.
        self.inspections = inspections or Inspections()
        self.inspections.wake = self._wake_version
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[asyncio.Task[Any], Key] = {}  # worker task -> the key it reconciles
        self._draining = False
        self.workers = workers
        self.resync_s = resync_s
        self.syncs: dict[str, Sync] = {MODEL_VERSION: sync_version, MODEL_DEPLOYMENT: sync_deployment,
                                       DRIFT_POLICY: sync_policy}
        # ModelDeployment key -> its spec.model, and the reverse: which deployments a ModelVersion
        # event concerns, found without a scan of every deployment (O(N^2) events at scale).
        self._deployments: dict[Key, str] = {}
        self._by_model: dict[tuple[str, str], set[Key]] = {}
        self._versions: set[Key] = set()
        self.versions = VersionCache()  # what ModelDeployment reconciles read instead of a list
        # ModelVersion key -> the ModelDeployments put off until its first status (`_put_off`).
        self._put_off: dict[Key, set[Key]] = {}
        self._deferred: set[Key] = set()  # ModelDeployments put off once, not yet reconciled since
        # DriftPolicy key -> its target ModelDeployment's name.
        self._policies: dict[Key, str] = {}

    # -- routing: called by kopf's event handlers ----------------------------------------

    def version_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(MODEL_VERSION, body)
        self.versions.update(event_type, body)
        if event_type == "DELETED":
            self._versions.discard(key)
        else:
            self._versions.add(key)
            if not self._own_update(MODEL_VERSIONS.plural, event_type, body):
                self.queue.add(key)
            if not looked_at(body):
                # Nothing a deployment could use yet (not verified, so never Ready): they look
                # once its first status comes (`_waits_for_first_look`), not twice.
                return
        self._put_off.pop(key, None)  # they are of its model: enqueued below
        model = str((body.get("spec") or {}).get("model", ""))  # they read its new status, ours or not
        for other in sorted(self._by_model.get((key.namespace, model), ())):
            self.queue.add(other)

    def deployment_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(MODEL_DEPLOYMENT, body)
        self._unindex(key)
        if event_type == "DELETED":
            return
        model = str((body.get("spec") or {}).get("model", ""))
        self._deployments[key] = model
        self._by_model.setdefault((key.namespace, model), set()).add(key)
        if not self._own_update(MODEL_DEPLOYMENTS.plural, event_type, body):
            self.queue.add(key)
        for policy, target in list(self._policies.items()):  # a new stable version: evaluate against it
            if policy.namespace == key.namespace and target == key.name:
                self.queue.add(policy)

    def _own_write(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Whether the event is our own last write of the object coming back (``Kube.echo``): the
        reconcile that wrote it decided with everything it says, and asks to look again itself
        when it needs to (``requeue_after``). Re-reconciling on it cost a GET and two lists per
        write for nothing (benchmarks/operator). A listing (no event type) is never skipped."""
        if event_type not in ("ADDED", "MODIFIED") or self._context is None:
            return False
        meta = body.get("metadata") or {}
        return self._context.kube.echo(plural, str(meta.get("namespace") or ""), str(meta.get("name")),
                                       str(meta.get("resourceVersion")))

    def _own_update(self, plural: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """``_own_write`` for the objects we reconcile themselves: only an update (our status
        write) is skipped. One we created (a retraining Job's ModelVersion) has never been
        reconciled: its ADDED event is its first look, and skipping it left the version
        unverified until the periodic resync (minutes in the demo)."""
        return event_type == "MODIFIED" and self._own_write(plural, event_type, body)

    def _unindex(self, key: Key) -> None:
        model = self._deployments.pop(key, None)
        if model is None:
            return
        of_model = self._by_model.get((key.namespace, model))
        if of_model is not None:
            of_model.discard(key)
            if not of_model:
                del self._by_model[(key.namespace, model)]

    def policy_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(DRIFT_POLICY, body)
        if event_type == "DELETED":
            self._policies.pop(key, None)
            self.queue.add(key)  # its sync finds it gone and drops its gauges
            return
        self._policies[key] = str(((body.get("spec") or {}).get("targetRef") or {}).get("name", ""))
        self.queue.add(key)

    def child_event(self, body: Mapping[str, Any], event_type: str | None = None) -> None:
        """A Deployment or Service (or a retraining Job) of ours changed: its owner looks again."""
        meta = body.get("metadata") or {}
        resource = BY_KIND.get(str(body.get("kind")))
        if resource is not None and self._own_write(resource.plural, event_type, body):
            return
        for ref in meta.get("ownerReferences") or ():
            if ref.get("kind") in (MODEL_DEPLOYMENT, DRIFT_POLICY):
                self.queue.add(Key(str(ref["kind"]), str(meta.get("namespace")), str(ref.get("name"))))

    # -- handling ------------------------------------------------------------------------

    async def context(self) -> Context:
        if self._context is None:
            self._context = await self._context_factory()
        return self._context

    async def close(self) -> None:
        if self._context is not None:
            await self._context.kube.close()
            self._context = None

    def _wake_version(self, namespace: str, name: str) -> None:
        """Called from an inspection's thread: enqueue on the loop, where the queue lives."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_unless_handled, Key(MODEL_VERSION, namespace, name))

    def _wake_unless_handled(self, key: Key) -> None:
        # Being handled: its worker waits for this very inspection (sync's HOLD_S) and takes the
        # outcome right after this callback (the pool wakes the loop first). Queued again, it
        # only ran once more for nothing: a GET per ModelVersion. A worker that stopped waiting
        # has let the key go (retried with backoff), so it is not active and is woken here.
        if not self.queue.active(key):
            self.queue.add(key)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._draining = False
        tasks = [asyncio.create_task(self._worker(i), name=f"modelops-worker-{i}") for i in range(self.workers)]
        tasks.append(asyncio.create_task(self._resync(), name="modelops-resync"))
        self._tasks = tasks
        try:
            # Workers end only by cancellation, or one by one once `drain` has begun.
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks = []
            self._loop = None
            self.queue.close()
            self.inspections.close()

    async def drain(self, grace_s: float) -> None:
        """Stop taking keys and let the reconciles in flight finish, for at most ``grace_s``.

        As controller-runtime's graceful shutdown: a replica stopped for an upgrade or a node
        drain would otherwise cut a reconcile between its status write and what follows it
        (the Events announcing the transition, the deletion of a replaced version), leaving
        the Events lost for good and the deletion to whoever leads next. A reconcile that
        outlasts the grace is cancelled: every write is idempotent, the next leader redoes it.
        Losing leadership drains too; the writes it lets finish are refused by the Lease check."""
        self._draining = True
        busy = [task for task in self._tasks if task in self._in_flight]
        for task in self._tasks:
            if task not in self._in_flight:
                task.cancel()
        if not busy:
            return
        log.info("stopping: waiting up to %.0fs for %d reconcile(s) in flight", grace_s, len(busy))
        _, pending = await asyncio.wait(busy, timeout=grace_s)
        for task in pending:
            log.warning("%s: reconcile cut short after the %.0fs shutdown grace; the next leader redoes it",
                        self._in_flight.get(task), grace_s)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_s)
            for key in [*self._versions, *self._deployments, *self._policies]:
                self.queue.add(key)

    async def _worker(self, index: int) -> None:
        # A worker never ends but by cancellation: `handle` catches every reconcile failure,
        # and a failure in that error handling itself (a bug, an overflow) is caught here,
        # so one bad key cannot silently take a worker, and then the controller, down.
        task = asyncio.current_task()
        assert task is not None
        while not self._draining:
            key = await self.queue.get()
            self._in_flight[task] = key
            try:
                await self.handle(key)
            except Exception as exc:
                log.exception("%s: handling failed outside the reconcile (%s); looking again later", key, exc)
                self._retry_after_handling_failed(key)
            finally:
                del self._in_flight[task]
                self.queue.done(key)

    def _retry_after_handling_failed(self, key: Key) -> None:
        """Schedule the key again, with its backoff if that works, else after the longest delay."""
        try:
            self.queue.retry(key)
        except Exception:
            try:
                self.queue.add_after(key, self.queue.backoff.maximum)
            except Exception:
                log.exception("%s: cannot be scheduled again; the periodic resync will", key)

    def _waits_for_first_look(self, key: Key) -> bool:
        """Whether a ModelDeployment should wait for a version of its model that is queued for its
        first look. Applied together (``kubectl apply -f`` of both, a GitOps sync), the deployment
        would otherwise often be reconciled first and write "VersionNotReady" (a status write
        and an Event) only for the version's verdict to come milliseconds later: a write to
        converge that says nothing lasting. The version's status write wakes it (an event of
        its model); should none come, ``_first_look_done`` does."""
        if key.kind != MODEL_DEPLOYMENT or key not in self._deployments:
            return False
        if key in self._deferred:
            # Put off once already: never again before it has been reconciled, so a version
            # that stays busy (an inspection re-queued, a worker stuck) cannot starve it.
            self._deferred.discard(key)
            return False
        for name in self.versions.unobserved(key.namespace, self._deployments[key]):
            version = Key(MODEL_VERSION, key.namespace, name)
            # Queued or being handled; or known only from a listing, its watch event (which
            # queues it) still to come. Not one waiting out a backoff: that could be minutes.
            if self.queue.busy(version) or version not in self._versions:
                self._put_off.setdefault(version, set()).add(key)
                self._deferred.add(key)
                return True
        return False

    def _first_look_done(self, version: Key) -> None:
        if self._put_off.get(version):
            asyncio.get_running_loop().call_later(PUT_OFF_FALLBACK_S, self._wake_put_off, version)

    def _wake_put_off(self, version: Key) -> None:
        for key in sorted(self._put_off.pop(version, ())):
            self.queue.add(key)

    async def handle(self, key: Key) -> None:
        if self._waits_for_first_look(key):
            return
        started = time.perf_counter()
        outcome = "ok"
        try:
            plan = await self.syncs[key.kind](await self.context(), key.namespace, key.name)
        except ApiUnavailable as exc:
            outcome = "error"
            delay = self.queue.retry(key, exc.retry_after)
            log.warning("%s: API unavailable (%s); retrying in %.1fs", key, exc, delay)
        except ApiError as exc:
            outcome = "error"
            if exc.status == 401 and self._context is not None:
                # Credentials expired (rotated service-account token): log in again on the next attempt.
                await self.close()
            delay = self.queue.retry(key)
            log.warning("%s: %s; retrying in %.1fs", key, exc, delay)
        except kopf.PermanentError as exc:
            outcome = "error"
            self.queue.forget(key)
            log.error("%s: %s; not retried until it changes", key, exc)
        except Exception as exc:  # a bug or an unexpected answer: never crash, never hot-loop
            outcome = "error"
            delay = self.queue.retry(key)
            log.exception("%s: reconcile failed (%s); retrying in %.1fs", key, exc, delay)
        else:
            if plan is not None and plan.retry:
                delay = self.queue.retry(key)
                log.info("%s: transient failure reported in status; looking again in %.1fs", key, delay)
            else:
                self.queue.forget(key)
                if plan is not None and plan.requeue_after is not None:
                    self.queue.add_after(key, plan.requeue_after)
        finally:
            metrics.observe(key.kind, outcome, time.perf_counter() - started)
            if key.kind == MODEL_VERSION:
                self._first_look_done(key)


def _key(kind: str, body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return Key(kind, str(meta.get("namespace")), str(meta.get("name")))

"""Assembling and running one operator: registry, settings, login, workers, probes, metrics.

Everything is built per call (no module-level registry), so tests can run an operator,
stop it, and start a fresh one against the same API, as a restart would.

The operator's layers (``operator/`` is a namespace portion, so this is where they are told),
from the outside in::

    cli.py, runner.py          flags -> Options; registry, settings, login, workers, probes, metrics
    */handlers.py              kopf registrations: every event only enqueues a key
    controller.py, workqueue   workers: one key at a time each, per-key backoff, resync
    modelversion/inspections   artifact downloads in a bounded pool of their own, with a deadline
    */sync.py, writing.py      read the object and what it depends on; carry out the plan
    */reconcile.py, children,  pure decisions: (object, observed) -> Plan (children, status, Events)
    observed.py, plans.py
    kube.py, events.py         the thin API client and the Event objects
    leadership.py              leader election on a Lease: workers start once elected, every write
                               asks it first, and losing it stops the process

The pure modules import neither kopf nor the client (tests/operator/test_layers.py checks),
so every decision is tested without a server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import kopf
from aiohttp import web

from modelops.operator import metrics
from modelops.operator.context import Context
from modelops.operator.controller import Controller
from modelops.operator.driftpolicy import handlers as policy_handlers
from modelops.operator.kube import Connection, Kube
from modelops.operator.leadership import Leadership, Timing, readiness_app
from modelops.operator.login import login
from modelops.operator.modeldeployment import handlers as deployment_handlers
from modelops.operator.modelversion import handlers as version_handlers
from modelops.operator.modelversion.inspections import Inspections
from modelops.operator.options import Options
from modelops.operator.settings import configure
from modelops.operator.workqueue import Backoff

log = logging.getLogger(__name__)

Flag = asyncio.Event | threading.Event | asyncio.Future[Any]


class LeadershipLostError(RuntimeError):
    """This replica lost the leader Lease and stopped; started again it is a standby."""


def elect(options: Options) -> Leadership | None:
    if not options.leader_election:
        metrics.LEADER.set(1)
        return None
    timing = Timing(options.lease_duration_s, options.renew_deadline_s, options.retry_period_s)

    async def lease_client() -> Kube:
        # Lease requests must answer well within the renew deadline, whatever the workers' timeout.
        timeout = min(options.request_timeout_s, timing.renew_deadline_s / 2)
        return Kube(Connection.from_kopf(login(options.kubeconfig)), timeout_s=timeout,
                    user_agent=f"modelops-operator/{leadership.identity}")

    leadership = Leadership(lease_client, namespace=options.lease_namespace, name=options.lease_name,
                            identity=options.identity, timing=timing)
    return leadership


def build(
    options: Options, leadership: Leadership | None = None
) -> tuple[kopf.OperatorRegistry, kopf.OperatorSettings, Controller]:
    registry = kopf.OperatorRegistry()
    settings = kopf.OperatorSettings()
    configure(settings, options)

    async def make_context() -> Context:
        connection = Connection.from_kopf(login(options.kubeconfig))
        if leadership is None:
            kube = Kube(connection, timeout_s=options.request_timeout_s)
        else:  # every write asks first whether this replica still surely leads
            kube = Kube(connection, timeout_s=options.request_timeout_s, may_write=leadership.still_leader,
                        user_agent=f"modelops-operator/{leadership.identity}")
        return Context(
            kube=kube,
            image=options.image,
            inspections=controller.inspections,
            versions=controller.versions,
        )

    controller = Controller(
        make_context,
        workers=options.workers,
        resync_s=options.resync_s,
        backoff=Backoff(options.backoff_base_s, options.backoff_max_s),
        inspections=Inspections(
            options.inspection_workers, timeout_s=options.artifact_timeout_s, deadline_s=options.artifact_deadline_s
        ),
    )
    version_handlers.register(registry, controller)
    deployment_handlers.register(registry, controller)
    policy_handlers.register(registry, controller)
    running: list[asyncio.Task[None]] = []

    @kopf.on.login(registry=registry)
    def credentials(**_: Any) -> kopf.ConnectionInfo:
        return login(options.kubeconfig)

    async def run_when_elected() -> None:
        # A standby's watches only route keys into the queue (cheap, deduplicated); the workers
        # start once this replica holds the Lease, and find every object already queued.
        if leadership is not None:
            await leadership.elected.wait()
        await controller.run()

    @kopf.on.startup(registry=registry)
    async def start_workers(**_: Any) -> None:
        running.append(asyncio.create_task(run_when_elected(), name="modelops-controller"))

    @kopf.on.cleanup(registry=registry)
    async def stop_workers(**_: Any) -> None:
        await controller.drain(options.shutdown_grace_s)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await controller.close()

    @kopf.on.probe(id="queue", errors=kopf.ErrorsMode.PERMANENT, registry=registry)
    def queue_length(**_: Any) -> int:
        # Watches alone are not liveness: the workers must be running too (else /healthz fails).
        if not running or running[0].done():
            raise RuntimeError("the reconcile workers are not running")
        return len(controller.queue)

    return registry, settings, controller


async def operate(
    options: Options, *, stop_flag: Flag | None = None, ready_flag: Flag | None = None
) -> None:
    """Run until ``stop_flag`` is set (or a signal arrives, when run in the main thread)."""
    leadership = elect(options)
    registry, settings, _controller = build(options, leadership)
    if options.metrics_port is not None:
        port = metrics.serve(options.metrics_port, options.metrics_address)
        log.info("Prometheus metrics on :%d/metrics", port)
    liveness = (
        f"http://{options.health_address}:{options.health_port}/healthz" if options.health_port is not None else None
    )
    background: list[asyncio.Task[None]] = []
    readiness: web.AppRunner | None = None
    stop = stop_flag
    if leadership is not None:
        stop = asyncio.Event()
        background.append(asyncio.create_task(leadership.run(), name="modelops-leadership"))
        background.append(asyncio.create_task(_stop_when(stop_flag, leadership.lost, stop)))
    if options.ready_port is not None:
        readiness = web.AppRunner(readiness_app(leadership), access_log=None)
        await readiness.setup()
        await web.TCPSite(readiness, options.health_address, options.ready_port).start()
    try:
        await kopf.operator(
            registry=registry,
            settings=settings,
            standalone=True,
            clusterwide=options.all_namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=liveness,
            stop_flag=stop,
            ready_flag=ready_flag,
        )
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if readiness is not None:
            await readiness.cleanup()
        if leadership is not None:
            await leadership.release()
    if leadership is not None and leadership.lost.is_set():
        raise LeadershipLostError(f"leader election lost: {leadership.identity} no longer holds Lease "
                             f"{options.lease_namespace}/{options.lease_name}")


async def _stop_when(flag: Flag | None, lost: asyncio.Event, stop: asyncio.Event) -> None:
    """Stop kopf when the caller says so, or when leadership is lost."""
    while not lost.is_set() and not _is_set(flag):
        await asyncio.sleep(0.05)
    stop.set()


def _is_set(flag: Flag | None) -> bool:
    if flag is None:
        return False
    if isinstance(flag, asyncio.Future):
        return flag.done()
    return flag.is_set()

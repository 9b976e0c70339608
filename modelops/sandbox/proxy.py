"""Service ClusterIPs that answer: the sandbox's kube-proxy.

Every Service's ClusterIP (127.0.2.N, allocated by the API) listens on each of its ports in
the sandbox process and forwards each TCP connection to the next ready Pod of its selector
(round robin over the Pods' IPs and target ports), so `curl http://CLUSTER-IP:8080/...`
reaches a model exactly as from inside a cluster, and the Replicas router's split is the
share of pods. `endpoints()` is the pure part: Services and Pods as listed, in; the
forwarding table, out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("modelops.sandbox.proxy")

Address = tuple[str, int]


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp") or not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _target_port(pod: dict[str, Any], target: Any) -> int | None:
    if isinstance(target, int):
        return target
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def endpoints(services: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[Address, list[Address]]:
    """(ClusterIP, port) -> the ready pods' (podIP, targetPort) behind it, sorted by pod name."""
    table: dict[Address, list[Address]] = {}
    for service in services:
        spec = service.get("spec") or {}
        ip, selector = spec.get("clusterIP"), spec.get("selector") or {}
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        namespace = service["metadata"].get("namespace")
        chosen = sorted((p for p in pods if p["metadata"].get("namespace") == namespace and _ready(p) and selector
                         and selector.items() <= (p["metadata"].get("labels") or {}).items()),
                        key=lambda p: str(p["metadata"]["name"]))
        for port in spec.get("ports") or []:
            if port.get("protocol", "TCP") != "TCP":
                continue
            backends = []
            for pod in chosen:
                target = _target_port(pod, port.get("targetPort", port["port"]))
                if target is not None:
                    backends.append((str(pod["status"]["podIP"]), target))
            table[(str(ip), int(port["port"]))] = backends
    return table


class ServiceProxy:
    """Listeners on the ClusterIPs, in an event loop of their own thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-proxy", daemon=True)
        self._thread.start()
        self._servers: dict[Address, asyncio.AbstractServer] = {}
        self._backends: dict[Address, list[Address]] = {}
        self._turns: dict[Address, Iterator[int]] = {}

    def update(self, table: dict[Address, list[Address]]) -> None:
        """Listen on every address of `table` (and no other), forwarding to its backends."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._apply(table), self._loop).result(timeout=10)

    def drop(self, hosts: set[str]) -> None:
        """Send no new connection to pods at ``hosts`` from now on, before the next ``update``: a
        pod about to be stopped leaves its Services first, as endpoints drop a terminating pod
        (otherwise connections reach it between its SIGTERM and the next pass, and fail)."""
        if self._loop.is_closed() or not hosts:
            return

        async def drop() -> None:
            self._backends = {address: [b for b in backends if b[0] not in hosts]
                              for address, backends in self._backends.items()}

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(timeout=10)

    async def _apply(self, table: dict[Address, list[Address]]) -> None:
        self._backends = table
        for address in list(self._servers):
            if address not in table:
                self._servers.pop(address).close()
        for address in table:
            if address in self._servers:
                continue
            try:
                self._servers[address] = await asyncio.start_server(functools.partial(self._forward, address),
                                                                    *address)
                self._turns[address] = itertools.count()
                log.info("service address %s:%d is open", *address)
            except OSError as exc:  # another process holds it: say so, keep the others working
                log.warning("cannot listen on %s:%d: %s", *address, exc)

    async def _forward(self, address: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backends = self._backends.get(address) or []
        if not backends:  # no ready pod: the connection is refused, as kube-proxy rejects it
            writer.close()
            return
        backend = backends[next(self._turns[address]) % len(backends)]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*backend)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def stop() -> None:
            for server in self._servers.values():
                server.close()
            self._servers.clear()
            # Connections in flight end with the proxy: no task or socket outlives the loop.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            sink.close()

"""The sandbox gateway: HTTPRoutes of Gateway `default/sandbox`, served on 127.0.0.1.

A Gateway API implementation for the sandbox, as Envoy Gateway or Istio are on a cluster.
On `start()` it listens on 127.0.0.1 at a free port (port 0, as the sandbox's other pieces
do), creates GatewayClass `modelops-sandbox` (controller `modelops.dev/sandbox-gateway`)
and Gateway `sandbox` with one HTTP listener on that port (routes from all namespaces), and
watches Gateways, HTTPRoutes, Services and Pods through the API. Each change rebuilds the
routing table (`httproutes.plan`, pure) and writes what a real implementation writes:
the Gateway's `status.addresses`, conditions and attached routes, and each route's
`status.parents` entry (Accepted, ResolvedRefs) for this controller.

Backends are the ready Pods behind each Service port (the same selection as the sandbox's
kube-proxy, `proxy.endpoints`), not the Service's ClusterIP: that is what gateways on a
cluster do (they load-balance over endpoints themselves), so a Service without ready pods
answers 503 as the spec asks rather than a refused connection, a mirrored request goes to a
single endpoint as the spec says, and routing does not depend on the ClusterIP listeners.

Per request: the rule (hostname, then path/method/header/query precedence), a backend by
weight from a seeded RNG, the request forwarded with its headers (Host unchanged, hop-by-hop
headers dropped, X-Forwarded-For added) and the answer streamed back, within the route's
`timeouts` or 60 s. A `RequestMirror` filter copies its share of requests into a bounded
queue that a few workers send to the mirror backend and whose answers are ignored: the
client's answer never waits for, or depends on, the mirror; a full queue drops the copy and
counts it (`stats`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from modelops import conditions
from modelops.conditions import Desired
from modelops.sandbox import httproutes
from modelops.sandbox.api import Api
from modelops.sandbox.httproutes import CLASS, CONTROLLER, GROUP, Mirror, Plan, RouteKey

log = logging.getLogger("modelops.sandbox.gateway")

# Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the request's: never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Stats:
    """Counters of the data plane (read from any thread; written by the gateway's loop only)."""

    requests: int = 0
    not_found: int = 0
    mirror_queued: int = 0
    mirrored: int = 0  # copies the mirror backend answered (whatever the answer)
    mirror_failed: int = 0  # copies that could not be sent (no endpoint, refused, timed out)
    mirror_dropped: int = 0  # copies not queued: the queue was full
    by_backend: dict[str, int] = field(default_factory=dict)


@dataclass
class _Kind:
    """One watched collection and its cache, keyed by (namespace, name)."""

    path: str
    objects: dict[RouteKey, dict[str, Any]] = field(default_factory=dict)
    synced: bool = False


class _GoneError(Exception):
    """The watch's resourceVersion is too old: list again."""


class SandboxGateway:
    """Start with `start()`, stop with `close()`; `url` is where clients send requests."""

    def __init__(self, api: Api, *, namespace: str = "default", name: str = "sandbox", host: str = "127.0.0.1",
                 port: int = 0, seed: int | None = None, mirror_queue: int = 256, mirror_workers: int = 4,
                 mirror_timeout_s: float = 10.0) -> None:
        self.api = api
        self.namespace, self.name, self.host = namespace, name, host
        self.port = port
        self.stats = Stats()
        self._rng = random.Random(seed)
        self._mirror_workers = mirror_workers
        self._mirror_timeout_s = mirror_timeout_s
        self._mirror_size = mirror_queue
        self._plan = Plan(httproutes.Table(), {}, 0)
        self._kinds = {
            "gateways": _Kind(f"/apis/{GROUP}/v1/namespaces/{namespace}/gateways"),
            "httproutes": _Kind(f"/apis/{GROUP}/v1/httproutes"),
            "services": _Kind("/api/v1/services"),
            "pods": _Kind("/api/v1/pods"),
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-gateway", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = asyncio.Event()
        self._mirrors: asyncio.Queue[tuple[Mirror, str, str, CIMultiDict[str], bytes]] | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._mirror_client: aiohttp.ClientSession | None = None
        self._kube: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def table(self) -> httproutes.Table:
        return self._plan.table

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Listen, create the GatewayClass and the Gateway, start watching; returns once it listens."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=timeout)

    async def _start(self) -> None:
        self._mirrors = asyncio.Queue(maxsize=self._mirror_size)
        self._client = aiohttp.ClientSession(auto_decompress=False, connector=aiohttp.TCPConnector(limit=256),
                                             skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        self._mirror_client = aiohttp.ClientSession(auto_decompress=False,
                                                    connector=aiohttp.TCPConnector(limit=self._mirror_workers),
                                                    skip_auto_headers=("User-Agent", "Accept-Encoding",
                                                                       "Content-Type"))
        self._kube = aiohttp.ClientSession(base_url=self.api.server,
                                           headers={"Authorization": f"Bearer {self.api.token}"},
                                           connector=aiohttp.TCPConnector(ssl=self.api.context), read_bufsize=2**20)
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        await self._ensure_objects()
        self._tasks = [asyncio.create_task(self._reconcile_loop())]
        self._tasks += [asyncio.create_task(self._watch(kind)) for kind in self._kinds.values()]
        self._tasks += [asyncio.create_task(self._mirror_worker()) for _ in range(self._mirror_workers)]
        log.info("sandbox gateway listens on %s", self.url)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
            except Exception as exc:  # stopping goes on: the loop ends with whatever is left
                log.warning("the sandbox gateway did not stop cleanly: %r", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        for session in (self._client, self._mirror_client, self._kube):
            if session is not None:
                await session.close()
        for _ in range(3):  # closed transports release their sockets on the loop's next turns
            await asyncio.sleep(0)
        # Requests in flight end with the gateway: no task or socket outlives the loop.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # ---- the API ----------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        assert self._kube is not None
        data = None if body is None else json.dumps(body)
        async with self._kube.request(method, path, data=data, headers={"Content-Type": content_type},
                                      timeout=aiohttp.ClientTimeout(total=10)) as answer:
            payload = await answer.json(content_type=None)
            if answer.status >= 400:
                raise aiohttp.ClientResponseError(answer.request_info, (), status=answer.status,
                                                  message=str((payload or {}).get("message", "")))
            return payload

    async def _ensure_objects(self) -> None:
        """GatewayClass `modelops-sandbox` and Gateway `sandbox` listening on this port."""
        gateway_class = {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": CLASS},
                         "spec": {"controllerName": CONTROLLER,
                                  "description": "The modelops sandbox's gateway on 127.0.0.1"}}
        listener = {"name": "http", "protocol": "HTTP", "port": self.port,
                    "allowedRoutes": {"namespaces": {"from": "All"}}}
        gateway = {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
                   "metadata": {"name": self.name, "namespace": self.namespace},
                   "spec": {"gatewayClassName": CLASS, "listeners": [listener]}}
        classes = f"/apis/{GROUP}/v1/gatewayclasses"
        gateways = f"/apis/{GROUP}/v1/namespaces/{self.namespace}/gateways"
        created = await self._create(classes, gateway_class)
        status = {"conditions": conditions.merge(
            [c for c in (created.get("status") or {}).get("conditions") or [] if c.get("reason") != "Pending"],
            [Desired("Accepted", "True", "Accepted", f"Handled by {CONTROLLER}")],
            created["metadata"].get("generation"))}
        await self._call("PATCH", f"{classes}/{CLASS}/status", {"status": status}, "application/merge-patch+json")
        existing = await self._create(gateways, gateway)
        if existing["spec"].get("listeners") != [listener] or existing["spec"].get("gatewayClassName") != CLASS:
            await self._call("PATCH", f"{gateways}/{self.name}", {"spec": gateway["spec"]},
                             "application/merge-patch+json")

    async def _create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(await self._call("POST", path, obj))
        except aiohttp.ClientResponseError as exc:
            if exc.status != 409:
                raise
        return dict(await self._call("GET", f"{path}/{obj['metadata']['name']}"))

    async def _watch(self, kind: _Kind) -> None:
        """List, then watch from that resourceVersion; list again after a 410 or a broken stream."""
        assert self._kube is not None
        backoff = 0.2
        while True:
            try:
                listed = await self._call("GET", kind.path)
                kind.objects = {_key(o): o for o in listed.get("items") or []}
                kind.synced = True
                self._dirty.set()
                version = str(listed["metadata"]["resourceVersion"])
                while True:
                    query = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true",
                             "timeoutSeconds": "300"}
                    async with self._kube.get(kind.path, params=query,
                                              timeout=aiohttp.ClientTimeout(total=None, sock_read=330)) as stream:
                        if stream.status == 410:
                            raise _GoneError
                        stream.raise_for_status()
                        try:
                            async for line in stream.content:
                                if not line.strip():
                                    continue
                                version = self._apply_event(kind, json.loads(line)) or version
                                backoff = 0.2
                        except asyncio.CancelledError:
                            # Stopping: cut the TLS connection at once. A graceful TLS close needs the
                            # loop for a few more turns, and the loop is about to end.
                            if stream.connection is not None and stream.connection.transport is not None:
                                stream.connection.transport.abort()
                            raise
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, _GoneError) as exc:
                log.debug("watch of %s: %r; listing again in %.1fs", kind.path, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _apply_event(self, kind: _Kind, event: dict[str, Any]) -> str | None:
        obj = event.get("object") or {}
        if event.get("type") == "ERROR":
            if obj.get("code") == 410:
                raise _GoneError
            raise ValueError(f"watch error: {obj.get('message')}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if event.get("type") == "DELETED":
            kind.objects.pop(_key(obj), None)
        elif event.get("type") in ("ADDED", "MODIFIED"):
            kind.objects[_key(obj)] = obj
        else:
            return str(version) if version else None  # BOOKMARK: nothing changed
        self._dirty.set()
        return str(version) if version else None

    # ---- control plane ------------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)  # a burst of events (a rollout step) makes one rebuild
            self._dirty.clear()
            if not all(kind.synced for kind in self._kinds.values()):
                continue
            gateway = self._kinds["gateways"].objects.get((self.namespace, self.name))
            listener = None
            if gateway is not None and (gateway.get("spec") or {}).get("gatewayClassName") == CLASS:
                listener = httproutes.listener_of(gateway)
            try:
                plan = httproutes.plan(listener, self._kinds["httproutes"].objects.values(),
                                       self._kinds["services"].objects.values(),
                                       self._kinds["pods"].objects.values())
                self._plan = plan  # one assignment: requests see the old table or the new one, whole
                await self._write_statuses(plan, gateway, listener)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API may be restarting, an object odd: never end the loop
                log.warning("gateway reconcile failed (retrying in 1s): %r", exc)
                self._loop.call_later(1.0, self._dirty.set)

    async def _write_statuses(self, plan: Plan, gateway: dict[str, Any] | None,
                              listener: httproutes.Listener | None) -> None:
        for key, route in list(self._kinds["httproutes"].objects.items()):
            current = list((route.get("status") or {}).get("parents") or [])
            others = [p for p in current if p.get("controllerName") != CONTROLLER]
            mine_now = [p for p in current if p.get("controllerName") == CONTROLLER]
            generation = route["metadata"].get("generation")
            mine = []
            for parent in plan.statuses.get(key, ()):
                old: dict[str, Any] = next((p for p in mine_now if p.get("parentRef") == parent.parent_ref), {})
                mine.append({"parentRef": parent.parent_ref, "controllerName": CONTROLLER,
                             "conditions": conditions.merge(old.get("conditions"), parent.conditions, generation)})
            if mine != mine_now:  # also drops our entry from a route that no longer names this Gateway
                await self._call("PATCH", f"/apis/{GROUP}/v1/namespaces/{key[0]}/httproutes/{key[1]}/status",
                                 {"status": {"parents": others + mine}}, "application/merge-patch+json")
        if gateway is not None and listener is not None:
            await self._write_gateway_status(gateway, listener, plan.attached)

    async def _write_gateway_status(self, gateway: dict[str, Any], listener: httproutes.Listener,
                                    attached: int) -> None:
        generation = gateway["metadata"].get("generation")
        status = gateway.get("status") or {}
        pending = [c for c in status.get("conditions") or [] if c.get("reason") != "Pending"]
        on_port = listener.port == self.port
        programmed = (Desired("Programmed", "True", "Programmed", f"Serving HTTP on {self.host}:{self.port}")
                      if on_port else
                      Desired("Programmed", "False", "PortUnavailable", f"the sandbox gateway listens on port "
                              f"{self.port} only (the listener asks for {listener.port})"))
        old_listener: dict[str, Any] = next(
            (x for x in status.get("listeners") or [] if x.get("name") == listener.name), {})
        wanted = {
            "addresses": [{"type": "IPAddress", "value": self.host}],
            "conditions": conditions.merge(pending, [Desired("Accepted", "True", "Accepted", "Gateway is accepted"),
                                                     programmed], generation),
            "listeners": [{
                "name": listener.name, "attachedRoutes": attached,
                "supportedKinds": [{"group": GROUP, "kind": "HTTPRoute"}],
                "conditions": conditions.merge(old_listener.get("conditions"), [
                    Desired("Accepted", "True", "Accepted", "Listener is accepted"), programmed,
                    Desired("ResolvedRefs", "True", "ResolvedRefs", "No references to resolve"),
                    Desired("Conflicted", "False", "NoConflicts", "No conflicts")], generation)}],
        }
        if {k: status.get(k) for k in wanted} != wanted:
            await self._call("PATCH", f"/apis/{GROUP}/v1/namespaces/{self.namespace}/gateways/{self.name}/status",
                             {"status": wanted}, "application/merge-patch+json")

    # ---- data plane ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        headers = {k.lower(): v for k, v in reversed(list(request.headers.items()))}  # the first value wins
        query = dict(reversed(list(request.rel_url.query.items())))
        host = request.headers.get("Host", "")
        rule = self._plan.table.route_for(host, request.path, request.method, headers, query)
        if rule is None:
            self.stats.not_found += 1
            return _answer(404, f"no HTTPRoute of Gateway {self.namespace}/{self.name} matches host "
                                f"{httproutes.strip_port(host)!r} and path {request.path!r}")
        target = httproutes.pick(rule.targets, self._rng)
        if target is None:
            return _answer(500, f"HTTPRoute {rule.route[0]}/{rule.route[1]} rule {rule.index}: no backendRef "
                                "has a weight above 0")
        self.stats.by_backend[target.service] = self.stats.by_backend.get(target.service, 0) + 1
        if target.problem is not None:
            return _answer(500, f"HTTPRoute {rule.route[0]}/{rule.route[1]}: {target.problem}")
        if not target.endpoints:
            return _answer(503, f"Service {target.service} has no ready endpoints")
        body = await request.read()
        forwarded = _forwarded_headers(request)
        for mirror in rule.mirrors:
            if httproutes.mirrored(mirror, self._rng):
                self._queue_mirror(mirror, request.method, request.raw_path, forwarded, body)
        ip, port = self._rng.choice(target.endpoints)
        timeout = aiohttp.ClientTimeout(total=rule.timeout_s or DEFAULT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        assert self._client is not None
        try:
            upstream = await self._client.request(request.method, yarl.URL(f"http://{ip}:{port}{request.raw_path}",
                                                                           encoded=True),
                                                  headers=forwarded, data=body or None, allow_redirects=False,
                                                  timeout=timeout)
        except TimeoutError:
            return _answer(504, f"Service {target.service}: {ip}:{port} did not answer within "
                                f"{timeout.total:.0f}s")
        except aiohttp.ClientError as exc:
            return _answer(502, f"Service {target.service}: {ip}:{port}: {exc}")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(65536):
                await response.write(chunk)
            await response.write_eof()
            return response

    def _queue_mirror(self, mirror: Mirror, method: str, raw_path: str, headers: CIMultiDict[str],
                      body: bytes) -> None:
        assert self._mirrors is not None
        try:
            self._mirrors.put_nowait((mirror, method, raw_path, headers, body))
            self.stats.mirror_queued += 1
        except asyncio.QueueFull:
            self.stats.mirror_dropped += 1

    async def _mirror_worker(self) -> None:
        assert self._mirrors is not None
        assert self._mirror_client is not None
        while True:
            mirror, method, raw_path, headers, body = await self._mirrors.get()
            try:
                if not mirror.endpoints:
                    self.stats.mirror_failed += 1
                    continue
                ip, port = self._rng.choice(mirror.endpoints)  # one endpoint per copy, as the spec says
                async with self._mirror_client.request(
                        method, yarl.URL(f"http://{ip}:{port}{raw_path}", encoded=True), headers=headers,
                        data=body or None, allow_redirects=False,
                        timeout=aiohttp.ClientTimeout(total=self._mirror_timeout_s)) as answer:
                    await answer.read()  # ignored: a mirror's answer never reaches the client
                self.stats.mirrored += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a copy that fails, however it fails, costs no worker
                self.stats.mirror_failed += 1
                log.debug("mirror to %s failed: %r", mirror.service, exc)
            finally:
                self._mirrors.task_done()


def _key(obj: dict[str, Any]) -> RouteKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


def _forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    """The request's headers as a backend gets them: Host kept, hop-by-hop dropped, X-Forwarded-*."""
    named = {v.strip().lower() for v in request.headers.getall("Connection", []) for v in v.split(",")}
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        lower = name.lower()
        # Content-Length is the body's as sent (the client library sets it); Expect was answered here.
        if lower not in HOP_BY_HOP and lower not in named and lower not in ("content-length", "expect"):
            headers.add(name, value)
    peer = request.remote or ""
    prior = headers.pop("X-Forwarded-For", "")
    headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    headers.setdefault("X-Forwarded-Proto", "http")
    return headers


def _answer(status: int, message: str) -> web.Response:
    """The gateway's own answer (no backend reached): the reason in the body, for a human with curl."""
    return web.Response(status=status, text=message + "\n", headers={"X-Modelops-Gateway": "sandbox"})

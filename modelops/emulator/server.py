"""The HTTP face of the emulator: Kubernetes API paths mapped onto `Cluster` operations.

One catch-all aiohttp handler parses `/api/v1/...` and `/apis/<group>/<version>/...` into
(type, namespace, name, subresource), then lists, watches, reads or writes through the
cluster. Watches stream line-delimited JSON events (`application/json`, as client-go
requires), resume from a resourceVersion or answer an ERROR event with 410 when it is
older than the history, honour `timeoutSeconds`, send periodic BOOKMARKs when asked
(kopf drops a watch silent for 70 s) and support `sendInitialEvents` (client-go WatchList).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

from modelops import __version__
from modelops.emulator import discovery, errors, logs, openapi, patches, protobuf, selectors, tables, tls
from modelops.emulator.cluster import Cluster
from modelops.emulator.errors import ApiError
from modelops.emulator.faults import Faults
from modelops.emulator.resources import ResourceType
from modelops.emulator.store import ABORT, CLOSE, Event

logger = logging.getLogger(__name__)

JSON = "application/json"


def _json(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type=JSON)


_HEALTH = ("/healthz", "/livez", "/readyz")
# What a real API server lets anyone read (the `system:public-info-viewer` role): the health
# probes and /version. Discovery, OpenAPI and every resource need the bearer token.
_PUBLIC = (*_HEALTH, "/version")

# Media types a real API server decodes. A body in any other type (a browser's `text/plain`
# "simple request", which needs no CORS preflight) is refused with 415 before it is read.
PROTOBUF = "application/vnd.kubernetes.protobuf"
_OBJECT_TYPES = ("application/json", "application/yaml", PROTOBUF)
_PATCH_TYPES = (patches.JSON_PATCH, patches.MERGE_PATCH, patches.STRATEGIC_MERGE_PATCH, patches.APPLY_PATCH)


def new_token() -> str:
    """A random bearer token: one per emulator start, written into its kubeconfig."""
    return secrets.token_urlsafe(32)


def _is_watch(request: web.Request) -> bool:
    return request.method == "GET" and request.query.get("watch") in ("true", "1")


def _public(path: str) -> bool:
    return any(path == p or path.startswith(f"{p}/") for p in _PUBLIC)


def authenticated(header: str, token: str) -> bool:
    """Whether an Authorization header carries `token` (compared in constant time)."""
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def unauthorized() -> ApiError:
    # The exact Status a real API server answers to a missing or wrong credential.
    return ApiError(401, "Unauthorized", "Unauthorized")


def _number(query: Any, name: str, kind: type[int] | type[float]) -> float:
    """A non-negative number from the query string (0 when absent); 400 naming it otherwise."""
    raw = query.get(name, "")
    try:
        value = kind(raw) if raw else 0
    except ValueError:
        value = -1
    if value < 0:
        raise errors.bad_request(f'invalid {name} "{raw}": expected a non-negative {kind.__name__}')
    return value


def _continue_position(token: str) -> list[str]:
    """The [namespace, name] a continue token resumes after (as `_list` writes them)."""
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        after = None
    if not (isinstance(after, list) and len(after) == 2 and all(isinstance(part, str) for part in after)):
        raise errors.bad_request(f"invalid continue token {token!r}: pass the metadata.continue of a previous list")
    return after


@dataclass(frozen=True)
class Target:
    """A parsed resource path."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    # Which client (tests tell two operator processes apart by it) and when (monotonic, on receipt).
    user_agent: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Emulator:
    """The API emulator: a cluster in memory, served over HTTP by `start()`."""

    cluster: Cluster = field(default_factory=Cluster)
    faults: Faults = field(default_factory=Faults)
    # Every request but the public probes must carry `Authorization: Bearer <token>`, over TLS
    # (kubectl sends a token only over https); the certificate is made at `start()`.
    token: str = field(default_factory=new_token)
    certificate: tls.Certificate | None = None
    # Where the sandbox kubelet writes container output (`pods/log`); None: no logs served.
    pod_logs: Path | None = None
    bookmark_interval: float = 20.0
    # Recent requests, newest last, for tests to assert what a client did.
    requests: collections.deque[RequestRecord] = field(default_factory=lambda: collections.deque(maxlen=5000))
    # Time spent answering requests (watch streams excluded) and how many: the emulator's own
    # cost, so a benchmark can tell whether the API or the client is the bottleneck.
    busy_s: float = 0.0
    answered: int = 0
    _runner: web.AppRunner | None = None
    _address: str = ""

    # ---- lifecycle ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) over https and return the base URL."""
        if self.certificate is None:
            self.certificate = tls.self_signed(host)
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self.certificate.server_context())
        await site.start()
        server = site._server
        assert server is not None
        bound = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self._address = f"{bound[0]}:{bound[1]}"
        return self.url

    @property
    def url(self) -> str:
        if not self._address:
            raise RuntimeError("the emulator is not started: call `await emulator.start()` first")
        return f"https://{self._address}"

    async def stop(self) -> None:
        if self._runner is not None:
            self.cluster.store.drop_watches()
            await asyncio.sleep(0)
            server = self._runner.server
            await self._runner.cleanup()
            self._runner = None
            # A TLS connection closes with a shutdown handshake that needs the loop after
            # cleanup() returns: abort what is left and let the loop run their connection_lost,
            # so no transport outlives a loop that its owner is about to close.
            for handler in list(server.connections) if server is not None else []:
                if handler.transport is not None:
                    handler.transport.abort()
            for _ in range(100):
                if server is None or not server.connections:
                    break
                await asyncio.sleep(0.01)
            # The raw sockets under TLS close one step later still (asyncio 3.11 cannot list
            # them): a moment for their connection_lost before the caller closes the loop.
            await asyncio.sleep(0.1)

    # ---- dispatch -----------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        status = 500
        started = time.perf_counter()
        try:
            self._authenticate(request)
            fault = self.faults.take(request.method, request.path, request.query_string)
            if fault is not None:
                raise fault
            response = await self._route(request)
            status = response.status
            return response
        except ApiError as error:
            status = error.code
            return _json(error.status(), status=error.code, headers=error.headers)
        except Exception as error:  # a bug of ours must still answer as an API server would
            logger.exception("emulator failed on %s %s", request.method, request.path_qs)
            status = 500
            return _json(ApiError(500, "InternalError", f"emulator error: {error!r}").status(),
                                     status=500)
        finally:
            if not (_is_watch(request) and status == 200):  # a watch that streamed recorded itself
                self.busy_s += time.perf_counter() - started
                self.answered += 1
                self.requests.append(RequestRecord(request.method, request.path, request.query_string, status,
                                                   request.headers.get("User-Agent", "")))

    def _authenticate(self, request: web.Request) -> None:
        """401 unless the request carries our token; anonymous requests may read the public paths.

        As on a real API server, a credential that is presented but wrong is refused even on a
        public path (authentication fails before authorization would let anonymous in).
        """
        header = request.headers.get("Authorization")
        if header is None:
            if request.method == "GET" and _public(request.path.rstrip("/") or "/"):
                return
            raise unauthorized()
        if not authenticated(header, self.token):
            raise unauthorized()

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if method == "GET":
            simple = self._simple_get(path, request)
            if simple is not None:
                return simple
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({method} {path})")
        target = self._target(group, version, rest)
        return await self._resource(request, target)

    def _simple_get(self, path: str, request: web.Request) -> web.StreamResponse | None:
        registry = self.cluster.registry
        document: dict[str, Any] | None
        if path in _HEALTH or any(path.startswith(f"{h}/") for h in _HEALTH):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            document = {"major": "1", "minor": "32", "gitVersion": f"v1.32.0+modelops.{__version__}",
                        "gitCommit": "modelops-emulator", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                        "goVersion": "python", "compiler": "modelops", "platform": "linux/amd64"}
        elif path == "/":
            document = {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz",
                                  "/version"]}
        elif path == "/api":
            document = discovery.api_versions(self._address)
        elif path == "/apis":
            document = discovery.api_groups(registry)
        elif path.startswith("/apis/") and path.count("/") == 2:
            document = discovery.api_group(registry, path.split("/")[2])
            if document is None:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        elif path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3):
            parts = path.split("/")
            group, version = ("", parts[2]) if parts[1] == "api" else (parts[2], parts[3])
            document = discovery.resource_list(registry, group, version)
            if document is None:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        elif path == "/openapi/v3":
            document = openapi.index(registry)
        elif path.startswith("/openapi/v3/"):
            parts = path.split("/")[3:]
            group, version = ("", parts[1]) if parts[0] == "api" and len(parts) == 2 else (
                (parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else ("", ""))
            document = openapi.group_version_document(registry, group, version) if version else None
            if document is None:
                raise ApiError(404, "NotFound", f"no OpenAPI document for {path}")
        elif path == "/openapi/v2":
            raise ApiError(404, "NotFound", "only /openapi/v3 is served by this emulator")
        else:
            return None
        return _json(document)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        namespace: str | None = None
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and not (len(rest) == 3 and rest[2] in ("status", "finalize"))):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rt = self.cluster.registry.get(group, version, rest[0])
        if rt is None:
            gv = f"{group}/{version}" if group else version
            raise ApiError(404, "NotFound", f'the server could not find the requested resource "{rest[0]}" in {gv}')
        if namespace is not None and not rt.namespaced:
            raise ApiError(404, "NotFound", f"{rt.plural} is cluster-scoped, not namespaced")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource == "finalize" and rt.plural == "namespaces":
            subresource = "status"  # close enough: finalize only edits spec.finalizers
        return Target(rt, namespace, name, subresource)

    # ---- resources ----------------------------------------------------------------------

    async def _resource(self, request: web.Request, target: Target) -> web.StreamResponse:
        method, q = request.method, request.query
        cluster, rt = self.cluster, target.rt
        dry_run = q.get("dryRun") == "All"
        validation = q.get("fieldValidation", "")
        if target.name is None:
            if method == "GET":
                if _is_watch(request):
                    return await self._watch(request, target)
                return self._list(request, target)
            if method == "POST":
                body = await self._body(request, _OBJECT_TYPES)
                new = cluster.create(rt, target.namespace, body, dry_run=dry_run, field_validation=validation)
                return _json(new, status=201)
            if method == "DELETE":
                options = await self._delete_options(request)
                predicate = self._predicate(q, rt)
                deleted = cluster.delete_collection(rt, target.namespace, predicate,
                                                    propagation=options.get("propagationPolicy"))
                return _json({"apiVersion": rt.api_version, "kind": rt.list_kind,
                                          "metadata": {"resourceVersion": str(cluster.store.resource_version)},
                                          "items": deleted})
            raise errors.method_not_allowed(f"{method} is not supported on a collection of {rt.plural}")
        name = target.name
        if target.subresource == "scale":
            return await self._scale(request, target)
        if target.subresource == "log" and rt.storage_key == ("", "pods"):
            if method != "GET":
                raise errors.method_not_allowed(f"{method} is not supported on pods/log")
            return await self._log(request, target)
        if method == "GET":
            obj = cluster.get(rt, target.namespace, name)
            if tables.wants_table(request.headers.get("Accept", "")):
                return _json(tables.table(rt, [obj], obj["metadata"]["resourceVersion"],
                                                      include_object=q.get("includeObject", "Metadata")))
            return _json(obj)
        if method == "PUT":
            body = await self._body(request, _OBJECT_TYPES)
            return _json(cluster.replace(rt, target.namespace, name, body, subresource=target.subresource,
                                                     dry_run=dry_run, field_validation=validation))
        if method == "PATCH":
            body = await self._body(request, _PATCH_TYPES)
            content_type = request.headers.get("Content-Type", "")
            patched, created = cluster.patch(rt, target.namespace, name, content_type, body,
                                             subresource=target.subresource, dry_run=dry_run,
                                             field_validation=validation)
            return _json(patched, status=201 if created else 200)
        if method == "DELETE":
            options = await self._delete_options(request)
            obj = cluster.delete(rt, target.namespace, name, propagation=options.get("propagationPolicy"),
                                 preconditions=options.get("preconditions"), dry_run=dry_run)
            return _json(obj)
        raise errors.method_not_allowed(f"{method} is not supported on {rt.plural}/{name}")

    async def _body(self, request: web.Request, accepted: tuple[str, ...] = _OBJECT_TYPES) -> Any:
        content_type = request.headers.get("Content-Type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        # No Content-Type reads as JSON, as on a real API server; anything unknown is refused
        # before the body is read, so it can never be taken for JSON.
        if media and media not in accepted:
            raise errors.unsupported_media_type(content_type, accepted)
        raw = await request.read()
        if media == PROTOBUF:
            return protobuf.decode(raw)  # kubectl's typed clients (create ns/configmap/secret)
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw.decode()) if raw else None
            return json.loads(raw) if raw else None
        except (ValueError, yaml.YAMLError) as error:
            raise errors.bad_request(f"the request body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: "
                                     f"{error}") from error

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            body = await self._body(request)
            if isinstance(body, dict):
                options = body
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if options.get("orphanDependents") is True and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan"
        if not isinstance(options.get("preconditions") or {}, dict):
            raise errors.bad_request(f"invalid preconditions {options['preconditions']!r}: expected an object "
                                     "with uid and/or resourceVersion")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.bad_request(f'invalid propagationPolicy "{policy}": use Background, Foreground or Orphan')
        return options

    def _predicate(self, q: Any, rt: ResourceType) -> selectors.Predicate:
        by_label = selectors.label_selector(q.get("labelSelector"))
        by_field = selectors.field_selector(q.get("fieldSelector"), rt.storage_key)
        return lambda obj: by_label(obj) and by_field(obj)

    def _list(self, request: web.Request, target: Target) -> web.StreamResponse:
        q = request.query
        rt = target.rt
        items, resource_version = self.cluster.list(rt, target.namespace, self._predicate(q, rt),
                                                    labels=selectors.equalities(q.get("labelSelector")))
        limit = int(_number(q, "limit", int))
        token = q.get("continue", "")
        if token:
            after = _continue_position(token)
            items = [i for i in items if [i["metadata"].get("namespace", ""), i["metadata"]["name"]] > after]
        next_token = ""
        if limit and len(items) > limit:
            items = items[:limit]
            last = items[-1]["metadata"]
            position = json.dumps([last.get("namespace", ""), last["name"]])
            next_token = base64.urlsafe_b64encode(position.encode()).decode()
        if tables.wants_table(request.headers.get("Accept", "")):
            return _json(tables.table(rt, items, str(resource_version),
                                                  include_object=q.get("includeObject", "Metadata"),
                                                  continue_token=next_token))
        metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if next_token:
            metadata["continue"] = next_token
        return _json({"apiVersion": rt.api_version, "kind": rt.list_kind, "metadata": metadata,
                                  "items": items})

    async def _scale(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt, name = target.rt, target.name
        assert name is not None
        if "scale" not in rt.subresources:
            raise errors.not_found(f"{rt.plural}/scale", rt.group, name)
        obj = self.cluster.get(rt, target.namespace, name)
        if request.method in ("PUT", "PATCH"):
            body = await self._body(request, _PATCH_TYPES if request.method == "PATCH" else _OBJECT_TYPES)
            scale = self._scale_of(obj)
            if request.method == "PATCH":
                scale = patches.apply_patch(request.headers.get("Content-Type", ""), scale, body, custom=True)
            else:
                scale = body
            spec = scale.get("spec") if isinstance(scale, dict) else None
            replicas = spec.get("replicas") if isinstance(spec, dict) else None
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", name, [("FieldValueInvalid", "spec.replicas",
                                     f"Invalid value: {replicas}: must be greater than or equal to 0")])
            obj, _ = self.cluster.patch(rt, target.namespace, name, "application/merge-patch+json",
                                        {"spec": {"replicas": replicas}})
        elif request.method != "GET":
            raise errors.method_not_allowed(f"{request.method} is not supported on {rt.plural}/scale")
        return _json(self._scale_of(obj))

    @staticmethod
    def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        selector = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in selector.items())}}

    # ---- logs ---------------------------------------------------------------------------

    async def _log(self, request: web.Request, target: Target) -> web.StreamResponse:
        q = request.query
        assert target.name is not None
        pod = self.cluster.get(target.rt, target.namespace, target.name)
        container = logs.container_of(pod, q.get("container", ""))
        if not (pod.get("spec") or {}).get("nodeName"):
            raise errors.bad_request(f'pod "{target.name}" does not have a host assigned')
        if self.pod_logs is None:
            raise errors.bad_request("this emulator serves no pod logs: start it with --pod-logs DIR "
                                     "(the sandbox does)")
        path = logs.log_file(self.pod_logs, target.namespace or "default", target.name, container)
        if q.get("previous") in ("true", "1"):
            path = logs.previous_log_file(self.pod_logs, target.namespace or "default", target.name, container)
            if not path.exists():
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{target.name}" not found')
        tail_lines = int(_number(q, "tailLines", int)) if q.get("tailLines") else None
        limit = int(_number(q, "limitBytes", int)) if q.get("limitBytes") else None
        data = path.read_bytes() if path.exists() else b""
        offset = len(data)
        data = logs.tail(data, tail_lines)
        if limit:
            data = data[:limit]
        if q.get("follow") not in ("true", "1"):
            return web.Response(body=data, content_type="text/plain")
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(data)
            # Follow until the container ends or the pod is gone (its processes stopped).
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(0.2)
                chunk = b""
                if path.exists():
                    with path.open("rb") as source:
                        source.seek(offset)
                        chunk = source.read()
                    offset += len(chunk)
                if chunk:
                    await response.write(chunk)
                current = self.cluster.store.peek((*target.rt.storage_key, target.namespace or "", target.name))
                if current is None or logs.container_ended(current, container):
                    break
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            return response
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    # ---- watching -----------------------------------------------------------------------

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        q = request.query
        rt = target.rt
        predicate = self._predicate(q, rt)
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        include = q.get("includeObject", "Metadata")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial_events = q.get("sendInitialEvents") in ("true", "1")
        if initial_events and q.get("resourceVersionMatch") != "NotOlderThan":
            raise errors.invalid("ListOptions", "meta.k8s.io", "", [("FieldValueForbidden", "resourceVersionMatch",
                                 "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")])
        raw_since = q.get("resourceVersion", "")
        since: int | None = None
        if raw_since not in ("", "0") and not initial_events:
            if not raw_since.isdigit():
                raise errors.bad_request(f'invalid resourceVersion "{raw_since}": expected a number')
            since = int(raw_since)
        timeout = _number(q, "timeoutSeconds", float)
        deadline = time.monotonic() + timeout if timeout > 0 else None
        store = self.cluster.store
        subscribed = store.subscribe(rt.storage_key, target.namespace, since,
                                     lambda: self.cluster.initial_events(rt, target.namespace))
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        # A watch is recorded when it starts: it may stream for as long as the client likes.
        self.requests.append(RequestRecord(request.method, request.path, request.query_string, 200,
                                           request.headers.get("User-Agent", "")))
        if subscribed is None:
            gone = errors.gone(f"too old resource version: {since} ({store.oldest_resumable})")
            await response.write(self._line({"type": "ERROR", "object": gone.status()}))
            return response
        subscription, backlog = subscribed
        try:
            for event in backlog:
                await self._send(response, rt, event, predicate=predicate, as_table=as_table, include=include)
            if initial_events:
                await response.write(self._line(self._bookmark(rt, initial_end=True)))
            last_bookmark = time.monotonic()
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if request.transport is None or request.transport.is_closing():
                    break
                if bookmarks and now - last_bookmark >= self.bookmark_interval:
                    await response.write(self._line(self._bookmark(rt)))
                    last_bookmark = now
                # Wake up at least every second to notice a client gone away while idle.
                wait = min(1.0, self.bookmark_interval) if bookmarks else 1.0
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - now))
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), timeout=wait)
                except TimeoutError:
                    continue
                if item == CLOSE:
                    break
                if item == ABORT:
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                if isinstance(item, Event):
                    await self._send(response, rt, item, predicate=predicate, as_table=as_table, include=include)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            return response
        finally:
            store.unsubscribe(subscription)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    @staticmethod
    def _line(event: dict[str, Any]) -> bytes:
        return orjson.dumps(event) + b"\n"

    def _bookmark(self, rt: ResourceType, *, initial_end: bool = False) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(self.cluster.store.resource_version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": metadata}}

    async def _send(self, response: web.StreamResponse, rt: ResourceType, event: Event, *,
                    predicate: selectors.Predicate, as_table: bool, include: str) -> None:
        event_type: str | None = event.type if predicate(event.object) else None
        if event.type == "MODIFIED" and event.old is not None:
            was, now = predicate(event.old), predicate(event.object)
            # An object entering or leaving a selector is an ADDED or DELETED for that watch.
            event_type = "MODIFIED" if was and now else "ADDED" if now else "DELETED" if was else None
        if event_type is None:
            return
        obj = {"apiVersion": rt.api_version, "kind": rt.kind,
               **{k: v for k, v in event.object.items() if k not in ("apiVersion", "kind")}}
        if as_table:
            obj = tables.table(rt, [obj], obj["metadata"]["resourceVersion"], include_object=include)
        await response.write(self._line({"type": event_type, "object": obj}))

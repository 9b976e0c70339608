"""A thin async Kubernetes client for what the reconcilers read and write.

kopf watches and calls handlers; the workers read objects fresh and write children and
status through this client. It speaks plain JSON over aiohttp with the credentials kopf
logged in with, and classifies answers the way the reconcilers need:

- 404 on get/delete is an answer (``None`` / ``False``), not an error;
- 409 on create means "already exists": ``ensure`` then patches what it found, but only
  when it is controlled by the same owner as the desired object (else ``NameConflictError``),
  and with that object's resourceVersion as a precondition; a 409 on such a patch (the
  object changed in between) is retried; a 409 on a delete whose uid precondition
  failed answers False (that name is now someone else's object) once a GET confirms the
  uid changed, and is retried while the object of that uid is still there;
- 5xx and 429 raise ``ApiUnavailable`` (a ``kopf.TemporaryError``, honouring Retry-After):
  the key is retried with backoff;
- anything else raises ``ApiError`` naming the request and the server's message.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import ssl
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import kopf
from aiohttp.client_proto import ResponseHandler
from aiohttp.tracing import Trace

from modelops import GROUP, VERSION
from modelops.operator.ownership import controller_uid, describe_conflict

log = logging.getLogger(__name__)
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        out = f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        if name is not None:
            out += f"/{quote(name)}"
        if subresource is not None:
            out += f"/{subresource}"
        return out


MODEL_VERSIONS = Resource(GROUP, VERSION, "modelversions", "ModelVersion")
MODEL_DEPLOYMENTS = Resource(GROUP, VERSION, "modeldeployments", "ModelDeployment")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
SERVICES = Resource("", "v1", "services", "Service")
EVENTS = Resource("", "v1", "events", "Event")
DRIFT_POLICIES = Resource(GROUP, VERSION, "driftpolicies", "DriftPolicy")
PODS = Resource("", "v1", "pods", "Pod")
JOBS = Resource("batch", "v1", "jobs", "Job")
# Gateway API: served only where its CRDs are installed (``Kube.served`` says whether).
HTTPROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")
BY_KIND = {r.kind: r for r in (MODEL_VERSIONS, MODEL_DEPLOYMENTS, DEPLOYMENTS, SERVICES, EVENTS,
                               DRIFT_POLICIES, PODS, JOBS, HTTPROUTES)}
# How long a "yes, served" from discovery is trusted before asking again (a "no" is not
# cached: installing the CRD is then seen by the next reconcile that asks).
SERVED_TTL_S = 300.0
# Own writes remembered to recognise their watch events (`Kube.echo`); one entry per object
# until its event comes, so this bounds only what a lost event would leave behind.
WRITTEN_ENTRIES = 50_000


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NameConflictError(Exception):
    """An object of the desired child's name exists and is not controlled by the desired owner."""

    def __init__(self, existing: Mapping[str, Any]) -> None:
        meta = existing.get("metadata") or {}
        super().__init__(describe_conflict(existing))
        self.kind = str(existing.get("kind", ""))
        self.namespace = str(meta.get("namespace", ""))
        self.name = str(meta.get("name", ""))
        self.existing = existing


class ApiUnavailable(kopf.TemporaryError):
    """5xx or 429: the request may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, delay=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate, from kopf's ConnectionInfo."""

    server: str
    headers: Mapping[str, str]
    ssl: ssl.SSLContext | bool

    @classmethod
    def from_kopf(cls, info: kopf.ConnectionInfo) -> Connection:
        headers: dict[str, str] = {}
        if info.token:
            headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        elif info.username and info.password:
            import base64

            basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        context: ssl.SSLContext | bool = True
        if info.server.startswith("https"):
            context = ssl.create_default_context(
                cafile=_path(info.ca_path), cadata=_text(info.ca_data)
            )
            if info.insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if info.certificate_path or info.certificate_data:
                with _material(info.certificate_path, info.certificate_data) as cert, _material(
                    info.private_key_path, info.private_key_data
                ) as key:
                    context.load_cert_chain(cert or "", key)
        return cls(info.server.rstrip("/"), headers, context)


def _path(value: Any) -> str | None:
    return None if value is None else str(value if not isinstance(value, bytes) else value.decode())


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@contextlib.contextmanager
def _material(path: Any, data: str | bytes | None) -> Iterator[str | None]:
    if path is not None:
        yield _path(path)
        return
    if data is None:
        yield None
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        yield f.name


EnsureResult = Literal["created", "updated", "unchanged"]


class NotLeading(ApiUnavailable):
    """A write refused before it was sent: this replica is not (or no longer surely) the leader."""


CLOSE_TIMEOUT_S = 5.0  # how long Kube.close waits for its connections to finish closing
OTHERS_GRACE_S = 0.25  # then a moment for the process's other closing connections (kopf's)


class _Connector(aiohttp.TCPConnector):
    """A TCPConnector that can wait until every connection it handed out is closed.

    A request cancelled mid-flight (an operator stopping while it reconciles) closes its own
    connection, outside the pool, so aiohttp's close() does not wait for it; a TLS connection
    then takes a few turns of the loop (close_notify both ways) before its socket is closed,
    and one still open when the loop ends is left to the garbage collector (ResourceWarning).
    """

    def __init__(self) -> None:
        super().__init__()
        self._handed_out: weakref.WeakSet[ResponseHandler] = weakref.WeakSet()

    async def connect(self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
                      ) -> aiohttp.connector.Connection:
        connection = await super().connect(req, traces, timeout)
        if connection.protocol is not None:
            self._handed_out.add(connection.protocol)
        return connection

    async def wait_closed(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until every connection handed out has lost its transport;
        call after close(), which closes those still pooled or in use."""
        # `closed` is None for a connection already lost; else a future its connection_lost
        # completes, after the socket under it was closed.
        waiting = [f for f in (p.closed for p in list(self._handed_out)) if f is not None]
        if not waiting:
            return
        done, pending = await asyncio.wait(waiting, timeout=timeout)
        for future in done:
            future.exception()  # a connection lost with an error is no news at shutdown: retrieved
        if pending:
            log.warning("%d connection(s) to the API server still closing after %.0fs", len(pending), timeout)


class Kube:
    """One aiohttp session to one API server. Create inside the operator's event loop.

    ``may_write``: asked right before every write (POST, PUT, PATCH, DELETE) is sent; when it
    answers False the write is refused with ``NotLeading`` and never reaches the server. Leader
    election passes ``Leadership.still_leader`` here, so a replica paused past its lease (or cut
    off from the API) cannot write once it resumes, whatever it was in the middle of.
    """

    def __init__(
        self, connection: Connection, timeout_s: float = 30.0, user_agent: str = "modelops-operator",
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        self.connection = connection
        self.may_write = may_write
        self._served_until: dict[Resource, float] = {}  # resource -> monotonic time a "yes" expires
        # (plural, namespace, name) -> the resourceVersion our last write of it left: its watch
        # event is then our own write coming back (see `echo`). Bounded; Events are not watched.
        self._written: collections.OrderedDict[tuple[str, str, str], str] = collections.OrderedDict()
        self._connector = _Connector()
        self._session = aiohttp.ClientSession(
            headers={**connection.headers, "User-Agent": user_agent, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout_s), connector=self._connector,
        )

    async def close(self) -> None:
        await self._session.close()
        await self._connector.wait_closed(CLOSE_TIMEOUT_S)
        # Ours are closed now. kopf's watch streams, cancelled just before the cleanup handler
        # that calls this, close their TLS connections too, out of our reach: without this
        # grace 2 of 6 runs of the integration tests left one such socket for the GC (0 of 4
        # with it). What would wait for them belongs in the runner's shutdown, after kopf's.
        await asyncio.sleep(OTHERS_GRACE_S)

    async def _request(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        url = self.connection.server + path
        headers = {"Content-Type": content_type} if body is not None else {}
        if method != "GET" and self.may_write is not None and not self.may_write():
            raise NotLeading(f"{method} {path} not sent: this replica does not hold the leader Lease")
        try:
            async with self._session.request(
                method, url, json=body, params=params, headers=headers, ssl=self.connection.ssl
            ) as response:
                payload = _decode(await response.text())
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiUnavailable(f"{method} {path} failed: {exc or type(exc).__name__}") from exc
        if status >= 500 or status == 429:
            delay = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise ApiUnavailable(f"{method} {path} answered HTTP {status}: {_message(payload)}", delay)
        return status, payload

    def _error(self, method: str, path: str, status: int, payload: Any) -> ApiError:
        reason = payload.get("reason", "") if isinstance(payload, dict) else ""
        return ApiError(status, reason, f"{method} {path}: {_message(payload)}")

    async def served(self, resource: Resource, *, ask: bool = True) -> bool:
        """Whether the API server serves ``resource`` (discovery of its group/version), as for a
        kind that exists only where its CRD is installed. A yes is cached for ``SERVED_TTL_S``;
        a no is asked again each call (``ask=False``: only what is cached, no request);
        ``forget`` drops a yes that a 404 has just disproved."""
        now = time.monotonic()
        if self._served_until.get(resource, 0.0) > now:
            return True
        if not ask:
            return False
        path = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
        status, payload = await self._request("GET", path)
        if status == 404:
            return False
        if status >= 400:
            raise self._error("GET", path, status, payload)
        names = {r.get("name") for r in (payload or {}).get("resources") or () if isinstance(r, dict)}
        if resource.plural not in names:
            return False
        self._served_until[resource] = now + SERVED_TTL_S
        return True

    def forget(self, resource: Resource) -> None:
        """Ask discovery again next time (a request for ``resource`` answered 404: its CRD went)."""
        self._served_until.pop(resource, None)

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        path = resource.path(namespace, name)
        status, payload = await self._request("GET", path)
        if status == 404:
            return None
        if status >= 400:
            raise self._error("GET", path, status, payload)
        return dict(payload)

    async def list(
        self, resource: Resource, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        path = resource.path(namespace)
        params = {"labelSelector": label_selector} if label_selector else None
        status, payload = await self._request("GET", path, params=params)
        if status >= 400:
            raise self._error("GET", path, status, payload)
        return [dict(item, kind=resource.kind) for item in (payload or {}).get("items") or ()]

    def _wrote(self, resource: Resource, payload: Any) -> dict[str, Any]:
        written = dict(payload)
        meta = written.get("metadata") or {}
        if resource.plural != EVENTS.plural and meta.get("resourceVersion"):
            key = (resource.plural, str(meta.get("namespace") or ""), str(meta.get("name")))
            self._written[key] = str(meta["resourceVersion"])
            self._written.move_to_end(key)
            while len(self._written) > WRITTEN_ENTRIES:
                self._written.popitem(last=False)
        return written

    def echo(self, plural: str, namespace: str, name: str, resource_version: str) -> bool:
        """Whether a watch event of this object at this resourceVersion is our own last write of it
        coming back (once: the entry is forgotten). Such an event tells the reconcile that wrote
        nothing it did not decide; controllers skip it rather than reconcile again for nothing."""
        key = (plural, namespace, name)
        if self._written.get(key) != resource_version:
            return False
        del self._written[key]
        return True

    async def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """The created object, or None when one of that name already exists (409)."""
        path = resource.path(namespace)
        status, payload = await self._request("POST", path, body=body)
        if status == 409:
            return None
        if status >= 400:
            raise self._error("POST", path, status, payload)
        return self._wrote(resource, payload)

    async def patch(
        self, resource: Resource, namespace: str, name: str, patch: Mapping[str, Any], subresource: str | None = None
    ) -> dict[str, Any] | None:
        """JSON merge patch; None when the object is gone."""
        path = resource.path(namespace, name, subresource)
        status, payload = await self._request("PATCH", path, body=patch, content_type=MERGE_PATCH)
        if status == 404:
            return None
        if status == 409:  # a merge patch carries no resourceVersion: a conflict is the server's, try again
            raise ApiUnavailable(f"PATCH {path} answered HTTP 409: {_message(payload)}")
        if status >= 400:
            raise self._error("PATCH", path, status, payload)
        return self._wrote(resource, payload)

    async def remove_annotation(self, resource: Resource, namespace: str, name: str, key: str, value: str) -> bool:
        """Remove annotation ``key`` only if it still has ``value``: a JSON patch that tests the
        value, then removes it, in one atomic request. False when the annotation changed or went
        meanwhile (someone set another value, which must stay), or the object is gone.

        The API server answers a failed ``test`` with 422, as it does a patch it cannot apply for
        another reason; which one it was is told by reading the annotation again.
        """
        path = resource.path(namespace, name)
        pointer = "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")
        operations = [{"op": "test", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
        status, payload = await self._request("PATCH", path, body=operations, content_type=JSON_PATCH)
        if status == 404:
            return False
        if status == 409:  # the server's own conflict: a JSON patch carries no resourceVersion
            raise ApiUnavailable(f"PATCH {path} answered HTTP 409: {_message(payload)}")
        if status == 422:
            current = await self.get(resource, namespace, name)
            if current is None or ((current.get("metadata") or {}).get("annotations") or {}).get(key) != value:
                return False
        if status >= 400:
            raise self._error("PATCH", path, status, payload)
        return True

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """PUT the whole object; with metadata.resourceVersion set, None when it changed meanwhile (409)."""
        path = resource.path(namespace, name)
        status, payload = await self._request("PUT", path, body=body)
        if status in (404, 409):
            return None
        if status >= 400:
            raise self._error("PUT", path, status, payload)
        return self._wrote(resource, payload)

    async def delete(self, resource: Resource, namespace: str, name: str, uid: str | None = None) -> bool:
        """Delete; with ``uid``, only the object of that uid (the API server checks, atomically).

        False when there is nothing to delete: no such object, or one of another uid."""
        path = resource.path(namespace, name)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        status, payload = await self._request("DELETE", path, body=options)
        if status == 404:
            return False
        if status == 409 and uid is not None:
            # The uid precondition failed (the name is now another object's), or the server had a
            # conflict of its own: only the first is an answer. Look before giving up on our object.
            current = await self.get(resource, namespace, name)
            meta = (current or {}).get("metadata") or {}
            if current is None or meta.get("uid") != uid or meta.get("deletionTimestamp"):
                return False  # someone else's now, or already going
            raise ApiUnavailable(f"DELETE {path} answered HTTP 409 ({_message(payload)}) yet uid {uid} is there")
        if status >= 400:
            raise self._error("DELETE", path, status, payload)
        return True

    async def ensure(
        self, desired: Mapping[str, Any], current: Mapping[str, Any] | Literal["unknown"] | None = "unknown"
    ) -> EnsureResult:
        """Create ``desired``, or merge-patch the existing object where it differs from it.

        Only the fields ``desired`` names are compared, so what the API server defaults or
        other controllers add never counts as drift (and never causes a write per reconcile).
        ``current`` is the object as just listed (None: not there), which saves a GET.

        An existing object is only patched when its controller owner reference is the one
        ``desired`` carries (both none, for an object without owner); otherwise it belongs to
        someone else and ``NameConflictError`` is raised without writing anything. The patch
        carries the resourceVersion of the object checked, so it cannot land on another one.
        """
        resource = BY_KIND[str(desired["kind"])]
        meta = desired["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        if current == "unknown":
            current = await self.get(resource, namespace, name)
        if current is None:
            if await self.create(resource, namespace, desired) is not None:
                return "created"
            current = await self.get(resource, namespace, name)  # created meanwhile: 409
            if current is None:
                raise ApiUnavailable(f"{resource.kind} {namespace}/{name}: create said it exists, get says not")
        if controller_uid(current) != controller_uid(desired):
            raise NameConflictError({**current, "kind": resource.kind})
        if contains(current, desired):
            return "unchanged"
        patch = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
        version = (current.get("metadata") or {}).get("resourceVersion")
        if version:
            patch["metadata"] = {**patch.get("metadata", {}), "resourceVersion": version}
        if await self.patch(resource, namespace, name, patch) is None:
            raise ApiUnavailable(f"{resource.kind} {namespace}/{name} vanished while being updated")
        return "updated"


def contains(actual: Any, desired: Any) -> bool:
    """Whether ``actual`` has every field of ``desired`` with the same value (lists element-wise)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(contains(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


def _decode(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("reason") or payload)
    return str(payload)[:500]

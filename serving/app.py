"""REST routes of the inference server (FastAPI): thin translations to the data plane.

Errors always have the shape ``{"error": "..."}``; FastAPI's own 422 validation answers
become 400s of that shape. Every response carries ``x-request-id``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelops.serving.budget import BodyBudget
from modelops.serving.codec import error_body
from modelops.serving.dataplane import DataPlane
from modelops.serving.errors import ServingError
from modelops.serving.forward import FORWARDED_HEADER
from modelops.serving.metrics import CONTENT_TYPE
from modelops.serving.protocol import (
    DriftResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    InferenceRequest,
    InferenceResponse,
    LiveResponse,
    ModelMetadata,
    ReadyResponse,
    ServerMetadata,
)
from modelops.serving.shadow import SHADOW_HEADER

log = logging.getLogger("modelops.serving")

REQUEST_ID = "x-request-id"
FEEDBACK_ID = "x-feedback-id"  # the routable id to send feedback by (see feedback_ids.py)
_REQUEST_ID_BYTES = REQUEST_ID.encode()
_FEEDBACK_ID_BYTES = FEEDBACK_ID.encode()
_SHADOW_BYTES = SHADOW_HEADER.encode()
_SCOPE_KEY = "modelops.request_id"
JSON = "application/json"


class RequestIdMiddleware:
    """Gives every response an ``x-request-id``: the request's own, or a fresh one.

    Pure ASGI (no ``BaseHTTPMiddleware``), so it costs a header lookup, not a task.
    A route that settles the id itself (infer, from the body's ``id``) sets the header
    and this leaves it alone.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid: bytes | None = None
        for key, value in scope["headers"]:
            if key == _REQUEST_ID_BYTES:
                rid = value
                break
        if rid is not None:
            scope[_SCOPE_KEY] = rid.decode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(k.lower() == _REQUEST_ID_BYTES for k, _ in headers):
                    value = rid if rid is not None else uuid.uuid4().hex.encode()
                    headers.append((_REQUEST_ID_BYTES, value))
            await send(message)

        await self.app(scope, receive, send_with_id)


class RawInferRoute:
    """The raw infer route: serves ``POST …/infer`` straight from ASGI, ahead of FastAPI's
    routing, request object and dependency solving (tens of microseconds per request, as
    much as the data plane itself costs). Same data plane, same answers; the FastAPI routes
    below still document these paths and serve them when this layer is not installed.
    ``ServingApp`` calls it before any of FastAPI's own layers (see there)."""

    def __init__(self, app: ASGIApp, dataplane: DataPlane) -> None:
        self.app = app
        self.dataplane = dataplane
        self.limit = dataplane.config.max_body_bytes
        self.budget = dataplane.body_budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/infer"):
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        # ["", "v2", "models", name, "infer"] or [..., name, "versions", version, "infer"]
        if len(parts) == 5 and parts[1] == "v2" and parts[2] == "models":
            name, version = parts[3], None
        elif len(parts) == 7 and parts[1] == "v2" and parts[2] == "models" and parts[4] == "versions":
            name, version = parts[3], parts[5]
        else:
            await self.app(scope, receive, send)
            return
        rid: str | None = None
        declared: int | None = None
        mirrored = False
        feedback_id: str | None = None
        for key, value in scope["headers"]:
            if key == _REQUEST_ID_BYTES:
                rid = value.decode("latin-1")
            elif key == b"content-length" and value.isdigit():
                declared = int(value)
            elif key == _SHADOW_BYTES:
                mirrored = True
        status = 200
        headers: dict[str, str] = {}
        held = _Held(self.budget)
        try:
            try:
                if declared is not None and declared > self.limit:
                    raise ServingError(
                        413, f"request body of {declared} bytes is over the limit of {self.limit} bytes"
                    )
                held.grow(declared or 0)
                body = await _receive_body(receive, self.limit, held)
                result = await self.dataplane.infer(
                    unquote(name), unquote(version) if version else None, body, rid, mirrored
                )
                out, rid, feedback_id = result.body, result.request_id, result.feedback_id
            except ServingError as exc:
                status, out, headers = exc.status, error_body(exc), exc.headers
            except Exception as exc:
                log.exception("unexpected error")
                status, out = 500, error_body(f"internal error: {type(exc).__name__}")
            raw = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(out)).encode()),
                (_REQUEST_ID_BYTES, _header_id(rid)),
            ]
            if feedback_id is not None:
                raw.append((_FEEDBACK_ID_BYTES, feedback_id.encode()))
            raw.extend((k.lower().encode(), v.encode()) for k, v in headers.items())
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": out})
        finally:
            held.release()


class ServingApp(FastAPI):
    """FastAPI with the raw infer route in front of everything FastAPI does per request.

    As a middleware (``add_middleware``) the raw route still ran inside FastAPI's own
    ``__call__``: its telemetry check (which reads ``os.environ`` on every request), the
    body-limit wrapper and Starlette's error middleware, ~20 µs of CPU per request, a tenth
    of what a one-row request cost in all (benchmarks/serving/cpu.py). The raw route
    catches every error itself and answers 500 like the error middleware would, so being
    outside those layers changes no answer.
    """

    raw_infer: RawInferRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = self.raw_infer
        if raw is not None:
            await raw(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _header_id(rid: str | None) -> bytes:
    """The id as a header value; the data plane refuses ids that cannot be one, and a
    header id arrives as Latin-1, so the fresh id is only a last resort."""
    if rid:
        try:
            return rid.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return uuid.uuid4().hex.encode()


class _Held:
    """The bytes one request holds in the body budget: grown as its body arrives (or at
    once, to its declared length), all given back when it is answered."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def grow(self, size: int) -> None:
        if size > self.size:
            self.budget.take(size - self.size)
            self.size = size

    def release(self) -> None:
        self.budget.give(self.size)
        self.size = 0


async def _receive_body(receive: Receive, limit: int, held: _Held) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ServingError(400, "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise ServingError(413, f"request body is over the limit of {limit} bytes")
            held.grow(size)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _parse_feedback(body: bytes) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ServingError(400, _describe_validation(exc.errors())) from None


def _error(exc: ServingError) -> Response:
    return Response(error_body(exc), status_code=exc.status, media_type=JSON, headers=exc.headers)


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _describe_validation(errors: Any) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts[:5])


async def read_body(request: Request, limit: int, held: _Held) -> bytes:
    """The body, refusing with 413 past ``limit`` bytes (before reading it, when the
    client declares its length), and with 503 past the body budget ``held`` counts in."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise ServingError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
        held.grow(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServingError(413, f"request body is over the limit of {limit} bytes")
        held.grow(size)
        chunks.append(chunk)
    return b"".join(chunks)


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "bad input (the message names the problem)"},
    404: {"model": ErrorResponse, "description": "unknown model or version"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    503: {"model": ErrorResponse, "description": "not ready or overloaded (see Retry-After)"},
    409: {"model": ErrorResponse, "description": "the first call for this id is still being scored"},
    410: {"model": ErrorResponse, "description": "the replica that made the prediction is gone"},
    504: {"model": ErrorResponse, "description": "the replica that made the prediction did not answer in time"},
}


def create_app(dataplane: DataPlane, *, load: bool = True, raw_infer_route: bool = True) -> FastAPI:
    """The FastAPI app around ``dataplane``; with ``load``, the artifact is loaded in the
    background at startup (the server answers live at once, ready once verified).
    ``raw_infer_route`` serves inference ahead of FastAPI's routing (``RawInferRoute``:
    same answers, less time)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loading: asyncio.Future[None] | None = None
        if load and dataplane.state == "loading":
            loading = asyncio.get_running_loop().run_in_executor(None, dataplane.load)
        try:
            yield
        finally:
            # uvicorn calls this after in-flight requests finished (graceful drain)
            if loading is not None:
                await loading  # a load still running finishes before the worker stops
            await dataplane.aclose()
            await asyncio.get_running_loop().run_in_executor(None, dataplane.close)

    app = ServingApp(
        title="modelops inference server",
        summary="Open Inference Protocol v2 (REST) with feedback, drift counts and metrics",
        version="2",
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    if raw_infer_route:
        # Other requests, and infer paths it does not recognise, go on to FastAPI itself.
        app.raw_infer = RawInferRoute(functools.partial(FastAPI.__call__, app), dataplane)
    limit = dataplane.config.max_body_bytes

    @app.exception_handler(ServingError)
    async def _serving_error(_request: Request, exc: ServingError) -> Response:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return _error(ServingError(400, _describe_validation(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return _json(error_body(str(exc.detail)), exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _json(error_body(f"internal error: {type(exc).__name__}"), 500)

    # -- health and metadata -------------------------------------------------------------

    @app.get("/v2/health/live", response_model=LiveResponse)
    async def live() -> Response:
        return _json(b'{"live":true}')

    @app.get("/v2/health/ready", response_model=ReadyResponse, responses={503: _ERRORS[503]})
    async def ready() -> Response:
        dataplane.check_ready()
        return _json(b'{"ready":true}')

    @app.get("/v2", response_model=ServerMetadata)
    async def server_metadata() -> dict[str, Any]:
        return dataplane.server_metadata()

    @app.get("/v2/models/{name}", response_model=ModelMetadata, responses={404: _ERRORS[404], 503: _ERRORS[503]})
    async def model_metadata(name: str) -> dict[str, Any]:
        return dataplane.model_metadata(name)

    @app.get(
        "/v2/models/{name}/versions/{version}",
        response_model=ModelMetadata,
        responses={404: _ERRORS[404], 503: _ERRORS[503]},
    )
    async def version_metadata(name: str, version: str) -> dict[str, Any]:
        return dataplane.model_metadata(name, version)

    @app.get("/v2/models/{name}/ready", response_model=ReadyResponse, responses={404: _ERRORS[404], 503: _ERRORS[503]})
    async def model_ready(name: str) -> Response:
        dataplane.check_ready(name)
        return _json(orjson.dumps({"name": name, "ready": True}))

    @app.get(
        "/v2/models/{name}/versions/{version}/ready",
        response_model=ReadyResponse,
        responses={404: _ERRORS[404], 503: _ERRORS[503]},
    )
    async def version_ready(name: str, version: str) -> Response:
        dataplane.check_ready(name, version)
        return _json(orjson.dumps({"name": name, "ready": True}))

    # -- inference -----------------------------------------------------------------------

    async def _infer(request: Request, name: str, version: str | None) -> Response:
        held = _Held(dataplane.body_budget)
        try:
            body = await read_body(request, limit, held)
            result = await dataplane.infer(
                name, version, body, request.scope.get(_SCOPE_KEY), SHADOW_HEADER in request.headers
            )
        except ServingError as exc:
            return _error(exc)
        finally:
            held.release()
        headers = {REQUEST_ID: _header_id(result.request_id).decode("latin-1")}
        if result.feedback_id is not None:
            headers[FEEDBACK_ID] = result.feedback_id
        return _json(result.body, headers=headers)

    infer_doc: dict[str, Any] = {
        "response_model": InferenceResponse,
        "responses": {k: _ERRORS[k] for k in (400, 404, 413, 503)},
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}},
            }
        },
    }

    @app.post("/v2/models/{name}/infer", **infer_doc)
    async def infer(request: Request, name: str) -> Response:
        return await _infer(request, name, None)

    @app.post("/v2/models/{name}/versions/{version}/infer", **infer_doc)
    async def version_infer(request: Request, name: str, version: str) -> Response:
        return await _infer(request, name, version)

    # -- our extensions ------------------------------------------------------------------

    @app.post(
        "/v2/models/{name}/feedback",
        response_model=FeedbackResponse,
        responses={k: _ERRORS[k] for k in (400, 404, 409, 410, 413, 503, 504)},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/FeedbackRequest"}}},
            }
        },
    )
    async def feedback(request: Request, name: str) -> Response:
        held = _Held(dataplane.body_budget)
        try:
            body = await read_body(request, limit, held)
            answer = await dataplane.feedback_call(
                name, body, _parse_feedback, request.headers.get(FORWARDED_HEADER)
            )
            return _json(answer.body, answer.status, answer.headers)
        finally:
            held.release()

    @app.get(
        "/v2/models/{name}/drift",
        response_model=DriftResponse,
        responses={k: _ERRORS[k] for k in (400, 404, 503)},
    )
    async def drift(name: str, window: str | None = None, summed: str | None = None) -> Response:
        # summed=true: the window's buckets added into one (the operator's DriftPolicy asks
        # for it, so its parse costs the same whatever the window)
        return _json(orjson.dumps(dataplane.drift(name, window, summed)))

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        current = dataplane.metrics
        return Response(current.exposition() if current is not None else b"", media_type=CONTENT_TYPE)

    _document_bodies(app)
    return app


def _document_bodies(app: FastAPI) -> None:
    """Add the request body models the hot routes parse by hand to the OpenAPI schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (InferenceRequest, FeedbackRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in body.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


"""The protocol-agnostic data plane: decode -> infer -> encode, and the model's state.

It knows nothing about HTTP frameworks: it takes bytes and names, returns bytes and
dicts, and raises ``ServingError`` (status + message) for anything it refuses. The REST
routes in ``app.py`` only translate.

Large requests never run on the event loop: a body of ``offload_body_bytes`` or more is
decoded, and an answer of ``offload_rows`` rows or more is encoded and remembered for
feedback, in one worker thread (``codec_pool``), so health checks and small requests are
answered meanwhile. One worker also bounds the memory that decoding takes at once. Small
requests stay inline: the hop to a thread would cost more than their decoding. A second
after large requests, the C heap's free memory is handed back to the system
(``malloc_trim``): worker threads allocate in arenas of their own, which glibc would
otherwise keep at their high-water mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import orjson

from modelops import __version__
from modelops.serving.batching import Batcher, BatcherStoppedError, Prediction
from modelops.serving.budget import BodyBudget
from modelops.serving.codec import DecodedRequest, decode_request, encode_response
from modelops.serving.config import ServingConfig
from modelops.serving.errors import ServingError, bad_request, not_found, unavailable
from modelops.serving.feedback import FeedbackError, FeedbackStore
from modelops.serving.feedback_ids import CLIENT_ID_HINT, FeedbackIds, Forward, Refuse, route
from modelops.serving.forward import SCORED_BY_HEADER, Forwarder
from modelops.serving.metrics import ServingMetrics
from modelops.serving.model import ServedModel
from modelops.serving.protocol import PROBA_OUTPUT, FeedbackRequest
from modelops.serving.shadow import ShadowMirror
from modelops.serving.sketch import DriftSketch, WindowError

log = logging.getLogger("modelops.serving")

State = Literal["loading", "ready", "failed", "stopping"]
T = TypeVar("T")
_TRIM_DELAY_SECONDS = 1.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:  # glibc only; elsewhere freed memory simply stays with the process
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()
FEEDBACK_PARAMETER = "feedback"  # response parameter saying a request was not remembered
FEEDBACK_ID_PARAMETER = "feedback_id"  # response parameter: the routable id, when the client chose its own


@dataclass(frozen=True)
class InferResult:
    body: bytes
    request_id: str
    feedback_id: str | None = None  # the routable id the prediction is remembered by


@dataclass(frozen=True)
class FeedbackAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


class _Serving:
    """Everything that exists only once a model is loaded."""

    def __init__(self, model: ServedModel, config: ServingConfig, pending: Any) -> None:
        self.model = model
        self.metrics = ServingMetrics(
            model.name, model.version, config.shadow_version if config.shadow_url else None
        )
        self.sketch = DriftSketch(
            model.profile,
            model=model.name,
            version=model.version,
            bucket_seconds=config.drift_bucket_seconds,
            window_seconds=config.drift_window_seconds,
        )
        self.feedback = FeedbackStore(
            config.feedback_capacity,
            config.accuracy_window,
            max_rows=config.feedback_max_rows,
            max_bytes=config.feedback_max_bytes,
            max_request_rows=config.feedback_max_request_rows,
        )
        classification = model.task == "classification"
        self.classification = classification
        self.shadow: ShadowMirror | None = None
        if config.shadow_url is not None and self.metrics.shadow is not None:
            self.shadow = ShadowMirror(
                config.shadow_url,
                config.shadow_percent,
                model=model.name,
                version=model.version,
                candidate=config.shadow_version or "",
                metrics=self.metrics.shadow,
                classification=classification,
                queue_size=config.shadow_queue,
                queue_bytes=config.shadow_queue_bytes,
                workers=config.shadow_workers,
                timeout=config.shadow_timeout_seconds,
                tolerance=config.shadow_tolerance,
            )

        def on_batch(rows: Any, predictions: Any, sizes: list[int]) -> None:
            self.sketch.add(rows, predictions)
            self.metrics.batch(predictions, classification, sizes)

        # The in-flight gauge reads the data plane's own count when scraped: the same value
        # as updating it around every request, without two locked updates per request.
        self.metrics.in_flight_child.set_function(lambda: float(pending()))
        self.batcher = Batcher(
            model,
            max_batch_size=config.max_batch_size,
            max_latency=config.max_batch_latency_ms / 1000.0,
            pending=pending,
            on_batch=on_batch,
            inline_rows=model.inline_rows,
        )


class DataPlane:
    def __init__(self, config: ServingConfig) -> None:
        self.config = config
        self.state: State = "loading"
        self.reason = "the model is loading"
        self.in_flight = 0
        self._serving: _Serving | None = None
        self._lock = threading.Lock()
        self.codec_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelops-codec")
        self.body_budget = BodyBudget(config.max_inflight_body_bytes, config.retry_after_seconds)
        self._trim_pending = False
        self.ids = FeedbackIds(config.advertise_address, config.feedback_key)
        self.forwarder = Forwarder(self.ids.address, config.feedback_forward_timeout_seconds)

    # -- lifecycle -----------------------------------------------------------------------

    def load(self) -> None:
        """Load and verify the artifact (blocking); on any failure stay not ready, with
        the reason logged and answered by the ready and infer endpoints."""
        from modelops.artifact import ArtifactError, load_artifact

        config = self.config
        if config.model_dir is None:
            self._fail("no --model-dir given")
            return
        log.info("loading the artifact in %s", config.model_dir)
        try:
            loaded = load_artifact(
                config.model_dir,
                expected_sha256=config.expected_sha256,
                trusted=config.trusted,
                allow_version_skew=config.allow_version_skew,
            )
            model = ServedModel.from_artifact(
                loaded,
                config.model_dir,
                name=config.model_name,
                version=config.model_version,
                direct=config.direct_predictors,
            )
        except ArtifactError as exc:
            self._fail(f"artifact {config.model_dir} refused ({exc.reason}): {exc.message}")
            return
        except Exception as exc:
            log.exception("loading the artifact failed")
            self._fail(f"artifact {config.model_dir} could not be loaded: {type(exc).__name__}: {exc}")
            return
        self.install(model)

    def install(self, model: ServedModel) -> None:
        """Serve a loaded, verified model."""
        serving = _Serving(model, self.config, lambda: self.in_flight)
        serving.batcher.start()
        with self._lock:
            if self.state == "stopping":
                serving.batcher.stop()
                return
            self._serving = serving
            self.state = "ready"
            self.reason = ""
        serving.metrics.set_ready(True)
        log.info(
            "ready: serving model %r version %r (%s, %d features, sha256 %s, %s)",
            model.name, model.version, model.task, len(model.features), model.sha256 or "-",
            model.predictor_description,
        )  # fmt: skip

    def _fail(self, reason: str) -> None:
        with self._lock:
            self.state = "failed"
            self.reason = reason
        log.error("not ready: %s", reason)

    def close(self) -> None:
        """Stop taking requests, finish queued predictions, stop the worker."""
        with self._lock:
            self.state = "stopping"
            self.reason = "the server is shutting down"
            serving = self._serving
        if serving is not None:
            serving.batcher.stop()
        self.codec_pool.shutdown(wait=True)

    async def aclose(self) -> None:
        """Close the connections feedback forwarding and shadow mirroring opened."""
        await self.forwarder.close()
        serving = self._serving
        if serving is not None and serving.shadow is not None:
            await serving.shadow.close()

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the codec worker thread, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.codec_pool, fn, *args)

    def _trim_soon(self) -> None:
        """Hand free heap memory back a second from now (once, however many requests)."""
        if self._trim_pending or _MALLOC_TRIM is None:
            return
        self._trim_pending = True

        def trim() -> None:
            self._trim_pending = False
            with contextlib.suppress(RuntimeError):  # the pool is shut down: nothing to do
                self.codec_pool.submit(_MALLOC_TRIM, 0)

        asyncio.get_running_loop().call_later(_TRIM_DELAY_SECONDS, trim)

    # -- lookups -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def model(self) -> ServedModel | None:
        return self._serving.model if self._serving is not None else None

    @property
    def metrics(self) -> ServingMetrics | None:
        return self._serving.metrics if self._serving is not None else None

    def _serving_for(self, name: str, version: str | None = None) -> _Serving:
        serving = self._serving
        if serving is None or self.state != "ready":
            configured = self.config.model_name
            if configured is not None and name != configured:
                raise not_found(f"unknown model {name!r}: this server serves {configured!r}")
            raise unavailable(f"model {name!r} is not ready: {self.reason}", self.config.retry_after_seconds)
        model = serving.model
        if name != model.name:
            raise not_found(f"unknown model {name!r}: this server serves {model.name!r}")
        if version is not None and version != model.version:
            raise not_found(f"model {name!r} has no version {version!r} here (serving {model.version!r})")
        return serving

    def check_ready(self, name: str | None = None, version: str | None = None) -> None:
        if name is None:
            if not self.ready:
                raise unavailable(f"not ready: {self.reason}", self.config.retry_after_seconds)
            return
        self._serving_for(name, version)

    # -- endpoints -----------------------------------------------------------------------

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "modelops", "version": __version__, "extensions": ["feedback", "drift", "metrics"]}

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        model = self._serving_for(name, version).model
        inputs = [
            {
                "name": f.name,
                "datatype": "FP64" if f.kind == "numeric" else "BYTES",
                "shape": [-1],
                "parameters": {"kind": f.kind},
            }
            for f in model.features
        ]
        outputs: list[dict[str, Any]] = [
            {"name": "predict", "datatype": model.output_datatype, "shape": [-1]}
        ]
        if model.supports_proba and model.classes is not None:
            outputs.append({"name": PROBA_OUTPUT, "datatype": "FP64", "shape": [-1, len(model.classes)]})
        parameters: dict[str, Any] = {"task": model.task, "sha256": model.sha256}
        if model.classes is not None:
            parameters["classes"] = list(model.classes)
        return {
            "name": model.name,
            "versions": [model.version],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": parameters,
        }

    async def infer(
        self, name: str, version: str | None, body: bytes, request_id: str | None, mirrored: bool = False
    ) -> InferResult:
        """One inference. ``mirrored``: a stable pod's shadow copy (header
        ``x-modelops-shadow``), served and counted but not remembered for feedback."""
        serving = self._serving_for(name, version)
        config = self.config
        model = serving.model
        metrics = serving.metrics
        if self.in_flight >= config.max_concurrency:
            metrics.request(503, 0.0)  # refused at once: counted, so error rates see overload
            raise unavailable(
                f"overloaded: {self.in_flight} requests in flight, the limit is {config.max_concurrency}",
                config.retry_after_seconds,
            )
        self.in_flight += 1
        started = time.perf_counter()
        code = 500
        large = len(body) >= config.offload_body_bytes
        try:
            if large:
                decoded = await self.offload(decode_request, body, model)
            else:
                decoded = decode_request(body, model)
            try:
                result = await serving.batcher.predict(decoded.rows, PROBA_OUTPUT in decoded.outputs)
            except BatcherStoppedError:
                raise unavailable("the server is shutting down", config.retry_after_seconds) from None
            except (ValueError, TypeError) as exc:
                # The rows passed our checks but the model refused them (e.g. a category
                # its encoder never saw): the client's input, not a server fault.
                raise bad_request(f"model {model.name!r} rejected the input: {exc}") from None
            client_id = request_id or decoded.id
            feedback_id = self.ids.issue() if serving.classification and not mirrored else None
            rid = client_id or feedback_id or uuid.uuid4().hex
            if result.predictions.shape[0] >= config.offload_rows:
                out, kept = await self.offload(
                    functools.partial(
                        _answer, serving, rid, feedback_id=feedback_id, client_id=client_id,
                        decoded=decoded, result=result,
                    )
                )  # fmt: skip
            else:
                out, kept = _answer(
                    serving, rid, feedback_id=feedback_id, client_id=client_id, decoded=decoded, result=result
                )
            code = 200
            if serving.shadow is not None and not mirrored:
                serving.shadow.offer(body, result.predictions)
            return InferResult(out, rid, feedback_id if kept else None)
        except ServingError as exc:
            code = exc.status
            raise
        finally:
            self.in_flight -= 1
            metrics.request(code, time.perf_counter() - started)
            if large:
                self._trim_soon()

    async def feedback_call(
        self, name: str, body: bytes, parse: Callable[[bytes], FeedbackRequest], forwarded_by: str | None
    ) -> FeedbackAnswer:
        """Feedback posted to this replica: scored here when the prediction is remembered
        here, else sent on to the replica its id names (see ``feedback_ids``)."""
        serving = self._serving_for(name)
        if serving.model.task != "classification":
            raise bad_request(f"model {name!r} is a regressor: feedback scores classifiers' accuracy")
        # a long list of labels is parsed and scored off the event loop, as large inference
        # requests are
        big = len(body) >= self.config.offload_body_bytes
        request = await self.offload(parse, body) if big else parse(body)
        decided = route(
            self.ids, request.id, held=serving.feedback.holds(request.id), forwarded=forwarded_by is not None
        )
        if isinstance(decided, Refuse):
            raise ServingError(decided.status, decided.message)
        if isinstance(decided, Forward):
            answer = await self.forwarder.send(decided.address, name, request.id, body)
            return FeedbackAnswer(answer.status, answer.body, {SCORED_BY_HEADER: decided.address})
        scored = await self.offload(self.feedback, name, request) if big else self.feedback(name, request)
        return FeedbackAnswer(200, orjson.dumps(scored), {SCORED_BY_HEADER: self.ids.address})

    def feedback(self, name: str, request: FeedbackRequest) -> dict[str, Any]:
        """Score feedback for a prediction remembered here (or answer a retry)."""
        serving = self._serving_for(name)
        if serving.model.task != "classification":
            raise bad_request(f"model {name!r} is a regressor: feedback scores classifiers' accuracy")
        if request.labels is not None and request.label is not None:
            raise bad_request("give either 'labels' (one per row) or 'label' (one-row request), not both")
        labels = request.labels if request.labels is not None else [request.label]
        if request.labels is None and request.label is None:
            raise bad_request("feedback needs 'labels' (one per row) or 'label'")
        try:
            scored = serving.feedback.score(request.id, list(labels))
        except FeedbackError as exc:
            message = exc.message
            if exc.status == 404 and not self.ids.looks_routable(request.id):
                message = f"{message}; {CLIENT_ID_HINT}"
            raise ServingError(exc.status, message) from None
        if not scored.already_scored:  # a retry counts nothing
            serving.metrics.feedback(scored.rows, scored.correct, scored.rolling_accuracy)
        return {
            "id": request.id,
            "model_version": scored.version,
            "rows": scored.rows,
            "correct": scored.correct,
            "rolling_accuracy": scored.rolling_accuracy,
            "rolling_samples": scored.rolling_samples,
            "already_scored": scored.already_scored,
        }

    def drift(self, name: str, window: str | None, summed: str | None = None) -> dict[str, Any]:
        serving = self._serving_for(name)
        seconds = parse_window(window) if window else float(self.config.drift_window_seconds)
        add_up = parse_summed(summed)
        try:
            return serving.sketch.window(seconds, summed=add_up).to_json()
        except WindowError as exc:
            raise bad_request(str(exc)) from None


def _answer(
    serving: _Serving,
    rid: str,
    *,
    feedback_id: str | None,
    client_id: str | None,
    decoded: DecodedRequest,
    result: Prediction,
) -> tuple[bytes, bool]:
    """Remember the predictions for feedback under ``feedback_id`` (and the client's own id;
    None: not remembered, as for regressors and mirrored requests), then encode the answer,
    which says when they were not remembered and, when the client chose the id, which
    routable id to send feedback by. Remembering comes last but one, and is undone if
    encoding fails: a refused request leaves nothing. Returns (body, remembered)."""
    model = serving.model
    note = None
    parameters: dict[str, Any] | None = None
    if feedback_id is not None:
        note = serving.feedback.remember(feedback_id, model.version, result.predictions, alias=client_id)
        if note is not None:
            parameters = {FEEDBACK_PARAMETER: note}
        elif client_id is not None:
            parameters = {FEEDBACK_ID_PARAMETER: feedback_id}
    try:
        body = encode_response(
            model,
            decoded.id or rid,
            decoded.outputs,
            result.predictions,
            result.probabilities,
            parameters=parameters,
        )
    except BaseException:
        if feedback_id is not None and note is None:
            serving.feedback.forget(feedback_id)
        raise
    return body, feedback_id is not None and note is None


def parse_summed(value: str | None) -> bool:
    """``summed=true|false`` (absent: false, the per-bucket answer), or a 400 naming the value.
    Only the two words: a typo must not silently fall back to 60 buckets per replica."""
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    shown = repr(value) if len(value) <= 24 else f"{value[:16]!r}… ({len(value)} characters)"
    raise bad_request(f"summed must be true or false, got {shown}")


def parse_window(value: str) -> float:
    """A window as a Go-style duration ("1h", "15m") or a number of seconds: finite and
    positive, or a 400 naming the value (the sketch then checks it against what it keeps)."""
    from modelops.api.common import parse_duration

    shown = repr(value) if len(value) <= 24 else f"{value[:16]!r}… ({len(value)} characters)"
    try:
        seconds = float(value) if value.replace(".", "", 1).isdigit() else _seconds(parse_duration(value))
    except ValueError as exc:
        raise bad_request(f"window: {exc}" if len(value) <= 24 else f"window: invalid duration {shown}") from None
    except OverflowError:  # a duration past timedelta's range (~2.7 million years)
        raise bad_request(f"window {shown} is out of range") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise bad_request(f"window {shown} must be a positive, finite duration")
    return seconds


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()

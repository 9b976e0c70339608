"""What keeps a one-row infer request cheap in CPU, each with the answer it must not change.

No timings are asserted: each test pins the property that removed the cost (a layer not
entered, a call not made, a count read rather than kept), next to a check that the answers
and counts are the same as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from typing import Any

import numpy as np
import orjson
import pytest
from starlette.applications import Starlette

from modelops.serving.app import create_app
from modelops.serving.batching import Batcher
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from modelops.serving.feedback import FeedbackStore, _factorize, label_key
from modelops.serving.feedback_ids import FeedbackIds
from modelops.serving.metrics import ServingMetrics
from modelops.serving.model import ServedModel
from tests.serving.models import rows, served
from tests.serving.support import wait_until


async def _call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    """One request straight through the ASGI app (no server, no network)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1234),
        "http_version": "1.1",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    out = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), out


def _body(x: np.ndarray) -> bytes:
    tensor = {"name": "x", "shape": list(x.shape), "datatype": "FP64", "data": x.ravel().tolist()}
    return orjson.dumps({"id": "r1", "inputs": [tensor]})


async def test_the_raw_infer_route_runs_before_fastapis_own_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    dataplane = DataPlane(ServingConfig())
    dataplane.install(served())
    app = create_app(dataplane, load=False)
    entered: list[str] = []
    original = Starlette.__call__  # what FastAPI's own __call__ goes on to, after its layers

    async def counting(self: Starlette, scope: Any, receive: Any, send: Any) -> None:
        entered.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(Starlette, "__call__", counting)
    try:
        x = rows(1)
        status, headers, out = await _call(app, "POST", "/v2/models/cancer/infer", _body(x))
        assert status == 200
        assert orjson.loads(out)["outputs"][0]["data"] == served().predict(x).tolist()
        assert headers[b"x-request-id"] == b"r1"
        assert b"x-feedback-id" in headers
        # FastAPI's telemetry, body-limit and error layers were not entered for infer...
        assert entered == []
        # ...while every other path still goes through FastAPI
        status, _, out = await _call(app, "GET", "/v2/health/live")
        assert (status, out) == (200, b'{"live":true}')
        assert entered == ["/v2/health/live"]
    finally:
        dataplane.close()


def test_a_one_row_prediction_is_remembered_without_np_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        np.array([1]), np.array([1.0]), np.array([True]), np.array(["yes"]), np.array([b"no"]),
        np.array(["mixed"], dtype=object), np.array([2], dtype=np.uint8),
    ]  # fmt: skip
    expected = [_factorize(np.concatenate([p, p])) for p in cases]  # two rows: the general path

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("np.unique was called for a one-row prediction")

    monkeypatch.setattr(np, "unique", refuse)
    for prediction, (codes, keys) in zip(cases, expected, strict=True):
        one_codes, one_keys = _factorize(prediction)
        assert one_keys == keys == (label_key(prediction.tolist()[0]),)
        assert one_codes.tolist() == [0]
        assert one_codes.dtype == codes.dtype
    store = FeedbackStore()
    assert store.remember("a", "v1", np.array([1])) is None
    assert store.score("a", ["1"]).correct == 1


def test_feedback_ids_are_signed_with_hmac_sha256_without_the_one_shot_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hmac.digest`` releases the GIL: on the event loop's thread that hands it to the
    predicting thread on every request. The keyed copy gives the same mac and keeps it."""
    key = b"k" * 70  # longer than SHA-256's block: hashed first, as HMAC requires
    ids = FeedbackIds("10.0.0.7:8080", key, instance="0123456789abcdef")
    issued = ids.issue()
    body, mac = issued.rsplit(".", 1)
    assert mac == hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:16]

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("hmac.digest was called")

    monkeypatch.setattr(hmac, "digest", refuse)
    again = ids.issue()
    assert again != issued
    assert ids.parse(again) is not None
    assert not isinstance(ids.parse(again), str)
    assert isinstance(ids.parse(again[:-1] + ("0" if again[-1] != "0" else "1")), str)  # altered: refused


def test_the_in_flight_gauge_reads_the_data_planes_count() -> None:
    dataplane = DataPlane(ServingConfig())
    dataplane.install(served())
    try:
        metrics = dataplane.metrics
        assert metrics is not None
        dataplane.in_flight = 3  # as if three requests were being served right now
        line = b'modelops_inflight_requests{model="cancer",version="v1"} 3.0'
        assert line in metrics.exposition()
        dataplane.in_flight = 0
        assert line.replace(b"3.0", b"0.0") in metrics.exposition()
    finally:
        dataplane.close()


def _samples(metrics: ServingMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if not s.name.endswith("_created") and s.value == s.value  # NaN (no feedback yet) is not == itself
    }


def test_joined_calls_count_as_the_calls_did(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [np.array([0, 1, 1]), np.array([1]), np.array([0, 0])]
    one_by_one = ServingMetrics("m", "v")
    for predictions in calls:
        one_by_one.batch(predictions, classification=True)
    monkeypatch.setattr(np, "unique", lambda *_a, **_k: pytest.fail("np.unique for a few predictions"))
    joined = ServingMetrics("m", "v")
    joined.batch(np.concatenate(calls), classification=True, sizes=[3, 1, 2])
    assert _samples(joined) == _samples(one_by_one)
    strings = np.array(["no", "yes", "no"], dtype=object)
    counted = ServingMetrics("m", "v")
    counted.batch(strings, classification=True)
    counts = {dict(k[1]).get("class"): v for k, v in _samples(counted).items() if k[0] == "modelops_predictions_total"}
    assert counts == {"no": 2.0, "yes": 1.0}


class _Held(ServedModel):
    """The real model, whose calls wait until the test lets them go."""

    def __init__(self, base: ServedModel) -> None:
        self.__dict__.update(base.__dict__)
        self.gate = threading.Event()
        self.calls: list[int] = []

    def predict(self, rows: Any) -> Any:
        self.gate.wait(10)
        self.calls.append(len(rows))
        return super().predict(rows)


async def test_monitoring_counts_unbatched_calls_together() -> None:
    """With batching off every request is a model call of its own; their drift counts and
    metrics are taken together once the worker is idle, with each call's size kept."""
    model = _Held(served())
    seen: list[tuple[int, list[int]]] = []
    batcher = Batcher(
        model, max_batch_size=1, max_latency=0.0, on_batch=lambda r, _p, sizes: seen.append((len(r), sizes))
    )
    batcher.start()
    try:
        requests = [rows(1, seed=i) for i in range(12)]
        tasks = [asyncio.create_task(batcher.predict(x)) for x in requests]
        await asyncio.sleep(0.05)  # all queued behind the held first call
        model.gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        batcher.stop()
    for x, result in zip(requests, results, strict=True):
        assert np.array_equal(result.predictions, served().predict(x))
    assert model.calls == [1] * 12
    assert [size for _, sizes in seen for size in sizes] == model.calls  # every call, once
    assert all(n == sum(sizes) for n, sizes in seen)
    assert len(seen) < len(model.calls)  # joined, not one monitoring call per model call


def test_the_serve_option_keeps_scikit_learn(lr_artifact: Any) -> None:
    direct = DataPlane(ServingConfig(model_dir=lr_artifact))
    plain = DataPlane(ServingConfig(model_dir=lr_artifact, direct_predictors=False))
    try:
        direct.load()
        plain.load()
        assert direct.model is not None
        assert direct.model.direct is not None
        assert plain.model is not None
        assert plain.model.direct is None
        assert plain.model.predictor_description == "scikit-learn predict"
        x = rows(5)
        assert np.array_equal(plain.model.predict(x), direct.model.predict(x))
    finally:
        direct.close()
        plain.close()


class _Threads(ServedModel):
    """The real model, recording which thread makes each call and how many run at once;
    calls can be held until the test lets them go."""

    def __init__(self, base: ServedModel) -> None:
        self.__dict__.update(base.__dict__)
        self.threads: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.active = 0
        self.most_at_once = 0

    def predict(self, rows: Any) -> Any:
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        self.entered.set()
        try:
            self.gate.wait(10)
            self.threads.append(threading.get_ident())
            return super().predict(rows)
        finally:
            self.active -= 1


def test_only_a_direct_linear_predictor_is_cheap_enough_to_call_on_the_event_loop() -> None:
    from tests.serving.models import served_nan_tolerant

    assert served().inline_rows > 0  # LogisticRegression behind a StandardScaler
    assert served_nan_tolerant().inline_rows == 0  # a tree ensemble: tens of microseconds a call
    plain = ServedModel(
        served().estimator, name="cancer", version="v1", features=served().features,
        profile=served().profile, task="classification", direct=False,
    )  # fmt: skip
    assert plain.inline_rows == 0  # scikit-learn's predict: ~0.2 ms a call


async def test_a_lone_request_is_predicted_without_the_hop_to_the_predicting_thread() -> None:
    """Nothing else in flight: the rows are predicted on the caller's thread, without a
    future, a wake-up of the worker or of the event loop; monitoring is handed over and
    the worker counts the calls together, each once."""
    model = _Threads(served())
    seen: list[list[int]] = []
    batcher = Batcher(
        model, max_batch_size=32, max_latency=0.002, pending=lambda: 1,
        on_batch=lambda _r, _p, sizes: seen.append(sizes), inline_rows=model.inline_rows,
    )  # fmt: skip
    # The worker is not started: a lone request must not need it.
    requests = [rows(1 + i % 3, seed=i) for i in range(20)]
    results = []
    for i, x in enumerate(requests):
        results.append(await batcher.predict(x, proba=i % 2 == 0))
        await asyncio.sleep(0)  # a lone client: the loop runs what is ready before the next request
    for i, (x, result) in enumerate(zip(requests, results, strict=True)):
        assert np.array_equal(result.predictions, served().predict(x))
        assert (result.probabilities is not None) == (i % 2 == 0)
    assert set(model.threads) == {threading.get_ident()}
    assert seen == []  # not counted on the event loop's thread...
    batcher.start()
    batcher.stop()
    # ...but by the worker, every call once, in groups
    assert [size for sizes in seen for size in sizes] == [len(x) for x in requests]
    assert len(seen) < len(requests)


async def test_requests_ready_on_the_loop_together_are_batched_though_each_is_alone_in_flight() -> None:
    """Under load a request answered on the loop leaves the in-flight count at one for the
    next: only once the loop has run what was ready does a request count as a lone one."""
    model = _Threads(served())
    batcher = Batcher(model, max_batch_size=32, max_latency=0.0, pending=lambda: 1, inline_rows=model.inline_rows)
    batcher.start()
    try:
        requests = [rows(1, seed=i) for i in range(10)]
        results = await asyncio.gather(*(batcher.predict(x) for x in requests))  # all ready at once
        await asyncio.sleep(0)
        alone = await batcher.predict(rows(1, seed=99))  # then a lone one
    finally:
        batcher.stop()
    for x, result in zip(requests, results, strict=True):
        assert np.array_equal(result.predictions, served().predict(x))
    assert alone.predictions.shape == (1,)
    here = threading.get_ident()
    assert model.threads[0] == here  # the first of them, alone as far as anyone knew
    assert here not in model.threads[1:-1]  # the others went to the worker
    assert model.threads[-1] == here


async def test_calls_handed_over_are_monitored_while_the_worker_is_idle() -> None:
    model = _Threads(served())
    seen: list[int] = []
    batcher = Batcher(
        model, pending=lambda: 1, on_batch=lambda _r, _p, sizes: seen.extend(sizes), inline_rows=model.inline_rows
    )
    batcher.start()
    try:
        for i in range(3):
            await batcher.predict(rows(1, seed=i))
            await asyncio.sleep(0)
        wait_until(batcher.caught_up, 30, "the worker to count the calls handed over")
        assert seen == [1, 1, 1]
    finally:
        batcher.stop()


async def test_requests_in_flight_together_still_go_to_the_predicting_thread() -> None:
    """Batching is unchanged under concurrency, and a lone request never calls the model
    while the worker is calling it (it queues behind it instead)."""
    model = _Threads(served())
    in_flight = 2
    batcher = Batcher(
        model, max_batch_size=32, max_latency=0.0, pending=lambda: in_flight, inline_rows=model.inline_rows
    )
    batcher.start()
    try:
        model.gate.clear()
        first = asyncio.create_task(batcher.predict(rows(1)))
        await asyncio.to_thread(model.entered.wait, 10)  # the worker is calling the model
        in_flight = 1  # as if the first request's client had gone away
        second = asyncio.create_task(batcher.predict(rows(1, seed=1)))
        await asyncio.sleep(0.05)
        assert not second.done()  # waiting for the worker, not predicted alongside it
        model.gate.set()
        await asyncio.gather(first, second)
    finally:
        batcher.stop()
    assert model.most_at_once == 1
    assert threading.get_ident() not in model.threads
    assert len(model.threads) == 2


async def test_a_lone_infer_request_is_answered_on_the_event_loop_and_monitored() -> None:
    model = _Threads(served())
    dataplane = DataPlane(ServingConfig())
    dataplane.install(model)
    app = create_app(dataplane, load=False)
    requests = [rows(1, seed=i) for i in range(5)]
    try:
        for x in requests:
            status, _, out = await _call(app, "POST", "/v2/models/cancer/infer", _body(x))
            assert status == 200
            assert orjson.loads(out)["outputs"][0]["data"] == served().predict(x).tolist()
            await asyncio.sleep(0)
        assert set(model.threads) == {threading.get_ident()}

        def drift_rows() -> int:
            return sum(bucket["rows"] for bucket in dataplane.drift("cancer", None, "true")["buckets"])

        wait_until(lambda: drift_rows() == 5, 30, "the worker to count the rows for drift")
    finally:
        dataplane.close()
    metrics = dataplane.metrics
    assert metrics is not None
    samples = _samples(metrics)
    labels = (("model", "cancer"), ("version", "v1"))
    assert samples[("modelops_rows_total", labels)] == 5
    assert samples[("modelops_batch_size_count", labels)] == 5
    assert samples[("modelops_requests_total", (("code", "200"), *labels))] == 5


def test_a_call_answered_while_the_worker_stops_is_still_counted() -> None:
    model = _Threads(served())
    seen: list[int] = []
    batcher = Batcher(
        model, pending=lambda: 1, on_batch=lambda _r, _p, sizes: seen.extend(sizes), inline_rows=model.inline_rows
    )
    batcher.start()
    model.gate.clear()
    answers: list[Any] = []
    caller = threading.Thread(target=lambda: answers.append(batcher.predict_here(rows(2))))
    caller.start()
    assert model.entered.wait(10)
    batcher.stop()  # the worker monitors what was handed over so far (nothing) and ends
    model.gate.set()
    caller.join(10)
    assert answers[0] is not None
    assert answers[0].predictions.shape == (2,)
    assert seen == [2]

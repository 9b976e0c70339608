"""The inference server over real HTTP: `modelops serve` on a real artifact, as pods run it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import ProcessServer, cancer_data, churn_frame, infer_body, thread_server, wait_until

pytestmark = pytest.mark.integration

X, Y, NAMES = cancer_data()


@pytest.fixture(scope="module")
def client(lr_server: ProcessServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lr_server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def churn(churn_artifact: Path) -> Iterator[httpx.Client]:
    dataplane = DataPlane(ServingConfig(model_dir=churn_artifact, model_name="churn"))
    with thread_server(create_app(dataplane)) as url, httpx.Client(base_url=url, timeout=30) as c:
        wait_until(lambda: c.get("/v2/health/ready").status_code == 200, 60, "the churn model to load")
        yield c


@pytest.fixture(scope="module")
def local_model(lr_artifact: Path) -> Any:
    from modelops.artifact import load_artifact

    return load_artifact(lr_artifact).model


# -- health and metadata ------------------------------------------------------------------


def test_live_and_ready(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/cancer/ready").json() == {"name": "cancer", "ready": True}
    assert client.get("/v2/models/cancer/versions/v1/ready").status_code == 200


def test_server_metadata_names_the_extensions(client: httpx.Client) -> None:
    meta = client.get("/v2").json()
    assert meta["name"] == "modelops"
    assert {"feedback", "drift", "metrics"} <= set(meta["extensions"])


def test_model_metadata_describes_the_inputs_and_outputs(client: httpx.Client) -> None:
    meta = client.get("/v2/models/cancer").json()
    assert meta["name"] == "cancer"  # the artifact directory's name
    assert meta["versions"] == ["v1"]
    assert [i["name"] for i in meta["inputs"]] == NAMES
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["outputs"][1]["shape"] == [-1, 2]
    assert meta["parameters"]["classes"] == [0, 1]
    assert len(meta["parameters"]["sha256"]) == 64
    assert client.get("/v2/models/cancer/versions/v1").json() == meta


def test_unknown_model_and_version_are_404(client: httpx.Client) -> None:
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/cancer/versions/v9"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
    response = client.post("/v2/models/other/infer", json=infer_body(X[:1], NAMES))
    assert response.status_code == 404
    assert "'other'" in response.json()["error"]
    assert "'cancer'" in response.json()["error"]
    response = client.post("/v2/models/cancer/versions/v2/infer", json=infer_body(X[:1], NAMES))
    assert response.status_code == 404
    assert "'v2'" in response.json()["error"]


# -- inference ----------------------------------------------------------------------------


def test_per_feature_tensors_predict_like_the_model(client: httpx.Client, local_model: Any) -> None:
    rows = X[:25]
    response = client.post("/v2/models/cancer/infer", json=infer_body(rows, NAMES))
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "cancer"
    assert body["model_version"] == "v1"
    (out,) = body["outputs"]
    assert out["name"] == "predict"
    assert out["shape"] == [25]
    assert out["datatype"] == "INT64"
    assert out["data"] == local_model.predict(rows).tolist()


def test_one_matrix_flat_or_nested_gives_the_same_answer(client: httpx.Client, local_model: Any) -> None:
    rows = X[100:110]
    flat = {"inputs": [{"name": "x", "shape": [10, 8], "datatype": "FP32", "data": rows.ravel().tolist()}]}
    nested = {"inputs": [{"name": "x", "shape": [10, 8], "datatype": "FP64", "data": rows.tolist()}]}
    expected = local_model.predict(rows).tolist()
    for body in (flat, nested):
        response = client.post("/v2/models/cancer/infer", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == expected


def test_column_tensors_of_shape_n_by_1_and_int_types_are_accepted(client: httpx.Client) -> None:
    rows = np.round(X[:3])
    body = {
        "inputs": [
            {"name": n, "shape": [3, 1], "datatype": "INT64", "data": [[int(v)] for v in rows[:, j]]}
            for j, n in enumerate(NAMES)
        ]
    }
    response = client.post("/v2/models/cancer/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [3]


def test_probabilities_when_asked_by_parameter_or_output(client: httpx.Client, local_model: Any) -> None:
    rows = X[:4]
    expected = local_model.predict_proba(rows)
    by_parameter = infer_body(rows, NAMES, parameters={"predict_proba": True})
    by_output = infer_body(rows, NAMES, outputs=[{"name": "predict_proba"}])
    for body in (by_parameter, by_output):
        outputs = {o["name"]: o for o in client.post("/v2/models/cancer/infer", json=body).json()["outputs"]}
        proba = outputs["predict_proba"]
        assert proba["shape"] == [4, 2]
        assert proba["datatype"] == "FP64"
        assert np.allclose(np.reshape(proba["data"], (4, 2)), expected)
    only_proba = client.post("/v2/models/cancer/infer", json=by_output).json()["outputs"]
    assert [o["name"] for o in only_proba] == ["predict_proba"]


def test_request_id_is_echoed_or_generated(client: httpx.Client) -> None:
    given = client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES), headers={"x-request-id": "req-7"})
    assert given.headers["x-request-id"] == "req-7"
    assert given.json()["id"] == "req-7"
    generated = client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES))
    rid = generated.headers["x-request-id"]
    assert len(rid) >= 16
    assert generated.json()["id"] == rid
    from_body = client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES, id="body-id"))
    assert from_body.headers["x-request-id"] == "body-id"
    assert from_body.json()["id"] == "body-id"
    for path in ("/v2/health/live", "/v2/models/nope", "/no/such/path", "/metrics"):
        assert client.get(path).headers.get("x-request-id"), path
        assert client.get(path, headers={"x-request-id": "mine"}).headers["x-request-id"] == "mine"


# -- bad input: 4xx naming the problem, and the server keeps serving -----------------------


def _tensor(name: str, data: list[Any], datatype: str = "FP64", shape: list[int] | None = None) -> dict[str, Any]:
    return {"name": name, "shape": shape if shape is not None else [len(data)], "datatype": datatype, "data": data}


def _row(**override: Any) -> list[dict[str, Any]]:
    """One row as per-feature tensors, with some tensors replaced (None drops one)."""
    tensors = {n: _tensor(n, [float(X[0, j])]) for j, n in enumerate(NAMES)}
    for name, tensor in override.items():
        if tensor is None:
            tensors.pop(name)
        else:
            tensors[name] = tensor
    return list(tensors.values())


BAD_INPUTS: list[tuple[str, Any, list[str]]] = [
    ("unknown feature", {"inputs": [*_row(), _tensor("colour", [1.0])]}, ["unknown", "'colour'"]),
    ("missing feature", {"inputs": _row(f3=None)}, ["missing", "'f3'"]),
    ("wrong feature name", {"inputs": [*_row(f3=None), _tensor("F3", [1.0])]}, ["'f3'", "'F3'"]),
    ("duplicate input", {"inputs": [*_row(), _tensor("f1", [1.0])]}, ["'f1'", "twice"]),
    ("rows disagree", {"inputs": _row(f2=_tensor("f2", [1.0, 2.0]))}, ["'f2'", "rows"]),
    ("feature tensor 2-D", {"inputs": _row(f2=_tensor("f2", [1.0, 2.0], shape=[1, 2]))}, ["'f2'", "[N]"]),
    ("shape vs data", {"inputs": _row(f2=_tensor("f2", [1.0, 2.0], shape=[1]))}, ["'f2'", "needs 1"]),
    ("matrix width", {"inputs": [_tensor("x", [1.0] * 7, shape=[1, 7])]}, ["[1, 7]", "8 features"]),
    ("matrix ragged", {"inputs": [_tensor("x", [[1.0] * 8, [1.0] * 7], shape=[2, 8])]}, ["ragged"]),
    ("matrix of strings", {"inputs": [_tensor("x", ["a"] * 8, "BYTES", [1, 8])]}, ["FP32", "BYTES"]),
    ("string in numeric", {"inputs": _row(f4=_tensor("f4", ["abc"]))}, ["'f4'", "'abc'", "not a number"]),
    ("numeric string", {"inputs": _row(f4=_tensor("f4", ["1.5"]))}, ["'f4'", "not a number"]),
    ("numeric as BYTES", {"inputs": _row(f4=_tensor("f4", ["x"], "BYTES"))}, ["'f4'", "numeric", "BYTES"]),
    ("null (NaN)", {"inputs": _row(f5=_tensor("f5", [None]))}, ["'f5'", "NaN", "cannot take"]),
    ("fraction in INT64", {"inputs": _row(f5=_tensor("f5", [1.5], "INT64"))}, ["'f5'", "integer"]),
    ("unknown datatype", {"inputs": _row(f5=_tensor("f5", [1.0], "FP128"))}, ["'f5'", "FP128"]),
    ("negative shape", {"inputs": _row(f5=_tensor("f5", [1.0], shape=[-1]))}, ["'f5'", "shape"]),
    (
        "data not a list",
        {"inputs": _row(f5={"name": "f5", "shape": [1], "datatype": "FP64", "data": 3})},
        ["'f5'", "data"],
    ),
    ("no inputs", {"inputs": []}, ["inputs"]),
    ("inputs missing", {"id": "x"}, ["inputs"]),
    ("body not an object", [1, 2], ["object"]),
    ("unknown output", {"inputs": _row(), "outputs": [{"name": "explain"}]}, ["'explain'"]),
    ("id not a string", {"inputs": _row(), "id": 5}, ["'id'"]),
    ("single non-feature", {"inputs": [_tensor("x", [1.0])]}, ["'x'", "not a feature"]),
]


@pytest.mark.parametrize(("case", "body", "words"), BAD_INPUTS, ids=[c for c, _, _ in BAD_INPUTS])
def test_bad_input_is_400_naming_the_problem(client: httpx.Client, case: str, body: Any, words: list[str]) -> None:
    response = client.post("/v2/models/cancer/infer", json=body)
    assert response.status_code == 400, (case, response.text)
    message = response.json()["error"]
    for word in words:
        assert word in message, (case, message)
    assert client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES)).status_code == 200


@pytest.mark.parametrize(("literal", "word"), [("NaN", "NaN"), ("Infinity", "infinite"), ("-Infinity", "infinite")])
def test_nan_and_infinity_literals_are_refused_by_feature(client: httpx.Client, literal: str, word: str) -> None:
    import orjson

    body = orjson.dumps({"inputs": _row()}).decode().replace(f"{float(X[0, 6])!r}", literal, 1)
    assert literal in body
    response = client.post("/v2/models/cancer/infer", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "'f6'" in response.json()["error"]
    assert word in response.json()["error"]


def test_invalid_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/v2/models/cancer/infer", content=b'{"inputs": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_oversized_body_is_413(client: httpx.Client) -> None:
    big = infer_body(np.tile(X, (4, 1)), NAMES)  # the server runs with --max-body-bytes 65536
    response = client.post("/v2/models/cancer/infer", json=big)
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no content-length: counted while reading
        import orjson

        data = orjson.dumps(big)
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    streamed = client.post("/v2/models/cancer/infer", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES)).status_code == 200


def _remembered(client: httpx.Client, rid: str) -> bool:
    response = client.post("/v2/models/cancer/feedback", json={"id": rid, "labels": [0]})
    assert response.status_code in (200, 400, 404), response.text
    return response.status_code != 404


@pytest.mark.parametrize(
    ("rid", "words"),
    [("訂單-1", ["'訂'", "x-request-id"]), ("a\r\nb", ["'\\r'", "x-request-id"])],
    ids=["non-latin-1", "cr-lf"],
)
def test_ids_the_header_cannot_carry_are_400_and_not_remembered(
    client: httpx.Client, rid: str, words: list[str]
) -> None:
    """Issue 12 item 8: the first was a 500 (encoding the header failed after the
    prediction was stored), the second got no answer at all (uvicorn refused the header)."""
    response = client.post("/v2/models/cancer/infer", json=infer_body(X[:1], NAMES, id=rid))
    assert response.status_code == 400, response.text
    for word in words:
        assert word in response.json()["error"]
    assert response.headers["x-request-id"]  # a generated one
    assert not _remembered(client, rid)


def test_a_long_integer_is_400_and_not_remembered(client: httpx.Client) -> None:
    """NaN sends the body to the standard library's parser, which takes any integer; a
    400-digit one overflowed float conversion (500) after the prediction was stored."""
    import orjson

    body = orjson.dumps(infer_body(X[:2], NAMES)).replace(b'"data":[', b'"data":[NaN,' + b"9" * 400 + b",", 1)
    body = body.replace(b'"shape":[2]', b'"shape":[4]', 1)
    response = client.post(
        "/v2/models/cancer/infer",
        content=body,
        headers={"content-type": "application/json", "x-request-id": "long-int"},
    )
    assert response.status_code == 400, response.text
    assert "64-bit" in response.json()["error"]
    assert not _remembered(client, "long-int")


@pytest.mark.parametrize("window", ["9" * 400, "99999999999999h"])
def test_drift_windows_out_of_range_are_400(client: httpx.Client, window: str) -> None:
    response = client.get("/v2/models/cancer/drift", params={"window": window})
    assert response.status_code == 400, response.text
    assert "window" in response.json()["error"]


def test_framework_validation_errors_are_400_in_our_shape(client: httpx.Client) -> None:
    response = client.post("/v2/models/cancer/feedback", json={"labels": [1]})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert "id" in response.json()["error"]


def test_wrong_method_keeps_the_error_shape(client: httpx.Client) -> None:
    response = client.get("/v2/models/cancer/infer")
    assert response.status_code == 405
    assert set(response.json()) == {"error"}


# -- categorical features and DataFrame-fitted models ---------------------------------------


def test_categorical_feature_as_bytes(churn: httpx.Client) -> None:
    frame, _ = churn_frame(n=20, seed=3)
    body = {
        "inputs": [
            _tensor("tenure", frame.tenure.tolist()),
            _tensor("charges", frame.charges.tolist()),
            _tensor("plan", frame.plan.tolist(), "BYTES"),
        ],
        "parameters": {"predict_proba": True},
    }
    rows_before = churn.get("/v2/models/churn/drift", params={"window": "1h"}).json()["buckets"]
    response = churn.post("/v2/models/churn/infer", json=body)
    assert response.status_code == 200, response.text
    counted = sum(b["rows"] for b in rows_before) + 20

    def drift_rows() -> int:
        return sum(b["rows"] for b in churn.get("/v2/models/churn/drift", params={"window": "1h"}).json()["buckets"])

    wait_until(lambda: drift_rows() == counted, 10, "the categorical rows to be counted for drift")
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["predict"]["shape"] == [20]
    assert outputs["predict_proba"]["shape"] == [20, 2]
    meta = churn.get("/v2/models/churn").json()
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "tenure": "FP64",
        "charges": "FP64",
        "plan": "BYTES",
    }


def test_categorical_model_refuses_a_matrix_and_missing_categories(churn: httpx.Client) -> None:
    matrix = {"inputs": [_tensor("x", [1.0, 2.0, 3.0], shape=[1, 3])]}
    response = churn.post("/v2/models/churn/infer", json=matrix)
    assert response.status_code == 400
    assert "'plan'" in response.json()["error"]
    missing = {"inputs": [_tensor("tenure", [3.0]), _tensor("charges", [50.0]), _tensor("plan", [None], "BYTES")]}
    response = churn.post("/v2/models/churn/infer", json=missing)
    assert response.status_code == 400
    assert "'plan'" in response.json()["error"]
    unseen = {"inputs": [_tensor("tenure", [3.0]), _tensor("charges", [50.0]), _tensor("plan", ["gold"], "BYTES")]}
    assert churn.post("/v2/models/churn/infer", json=unseen).status_code == 200  # encoder ignores it

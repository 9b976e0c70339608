"""Decoding requests into rows: the simple-tensor decoder and the checked path agree, and the checked
path names the problem. In-process, no HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.serving.codec import _checked_rows, _simple_tensor_rows, decode_request, encode_response
from modelops.serving.errors import ServingError
from tests.serving.models import rows, served, served_nan_tolerant

MODEL = served()
NAMES = list(MODEL.feature_names)


def per_feature(x: np.ndarray[Any, Any], datatype: str = "FP64", column: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "shape": [len(x), 1] if column else [len(x)],
            "datatype": datatype,
            "data": [[v] for v in x[:, j].tolist()] if column else x[:, j].tolist(),
        }
        for j, n in enumerate(NAMES)
    ]


def matrix(x: np.ndarray[Any, Any], nested: bool = False) -> list[dict[str, Any]]:
    data = x.tolist() if nested else x.ravel().tolist()
    return [{"name": "input-0", "shape": list(x.shape), "datatype": "FP32", "data": data}]


@pytest.mark.parametrize(
    "layout",
    [
        per_feature,
        lambda x: per_feature(x, column=True),
        lambda x: list(reversed(per_feature(x))),
        matrix,
        lambda x: matrix(x, nested=True),
    ],
    ids=["per-feature", "per-feature-column", "any-order", "matrix-flat", "matrix-nested"],
)
def test_every_layout_decodes_to_the_same_rows_on_both_paths(layout: Any) -> None:
    x = rows(7)
    inputs = layout(x)
    simple = _simple_tensor_rows(inputs, MODEL)
    checked = _checked_rows(inputs, MODEL)
    assert simple is not None  # plain finite numbers take the simple-tensor decoder
    assert np.array_equal(simple, x)
    assert np.array_equal(checked, x)
    assert np.array_equal(decode_request(orjson.dumps({"inputs": inputs}), MODEL).rows, x)


def test_integers_and_booleans_are_numbers() -> None:
    x = np.round(rows(3))
    inputs = per_feature(x, datatype="INT64")
    inputs[0] = {"name": NAMES[0], "shape": [3], "datatype": "BOOL", "data": [True, False, True]}
    decoded = decode_request(orjson.dumps({"inputs": inputs}), MODEL).rows
    assert decoded[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert np.array_equal(decoded[:, 1:], x[:, 1:])


def test_a_model_that_takes_nan_gets_it() -> None:
    model = served_nan_tolerant()
    inputs = per_feature(rows(2))
    inputs[3]["data"] = [None, 1.0]
    decoded = decode_request(orjson.dumps({"inputs": inputs}), model).rows
    assert np.isnan(decoded[0, 3])
    assert decoded[1, 3] == 1.0
    with pytest.raises(ServingError, match="'f3': missing or NaN"):
        decode_request(orjson.dumps({"inputs": inputs}), MODEL)


def test_outputs_requested_by_parameter_and_by_name() -> None:
    base = {"inputs": per_feature(rows(1))}
    assert decode_request(orjson.dumps(base), MODEL).outputs == ("predict",)
    with_param = {**base, "parameters": {"predict_proba": True}}
    assert decode_request(orjson.dumps(with_param), MODEL).outputs == ("predict", "predict_proba")
    named = {**base, "outputs": [{"name": "predict_proba"}, {"name": "predict"}]}
    assert decode_request(orjson.dumps(named), MODEL).outputs == ("predict_proba", "predict")


def test_a_regressor_has_no_probabilities() -> None:
    from sklearn.linear_model import LinearRegression

    from modelops.drift.profile import Profile, numeric_profile
    from modelops.serving.model import ServedModel

    x = rows(50)
    regressor = LinearRegression().fit(x, x[:, 0] * 2)
    model = ServedModel(
        regressor,
        name="reg",
        version="v1",
        features=MODEL.features,
        profile=Profile(features=MODEL.profile.features, output=numeric_profile("predict", x[:, 0])),
        task="regression",
    )
    body = {"inputs": per_feature(rows(1)), "parameters": {"predict_proba": True}}
    with pytest.raises(ServingError, match="cannot give predict_proba") as caught:
        decode_request(orjson.dumps(body), model)
    assert caught.value.status == 400


def test_encoded_response_follows_the_protocol() -> None:
    predictions = np.array([0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    body = orjson.loads(encode_response(MODEL, "r-1", ("predict", "predict_proba"), predictions, proba))
    assert body == {
        "model_name": "cancer",
        "model_version": "v1",
        "id": "r-1",
        "outputs": [
            {"name": "predict", "shape": [3], "datatype": "INT64", "data": [0, 1, 1]},
            {"name": "predict_proba", "shape": [3, 2], "datatype": "FP64", "data": proba.ravel().tolist()},
        ],
    }
    strings = orjson.loads(encode_response(MODEL, "r-2", ("predict",), np.array(["yes", "no"]), None))
    assert strings["outputs"][0]["datatype"] == "BYTES"


def test_nested_data_must_match_the_declared_shape_on_both_paths() -> None:
    inputs = per_feature(rows(2))
    for tensor in inputs:
        tensor["data"] = [[v] for v in tensor["data"]]  # nested [N, 1] data under shape [N]
    assert _simple_tensor_rows(inputs, MODEL) is None
    with pytest.raises(ServingError, match="nested data has shape \\[2, 1\\], 'shape' says \\[2\\]"):
        decode_request(orjson.dumps({"inputs": inputs}), MODEL)


_PERTURBATIONS = [
    *("none", "length", "string", "null", "inf", "nan"),
    *("bytes", "int-type", "bool", "nested", "unknown-type"),
]


@st.composite
def tensors(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid per-feature request with at most one tensor perturbed (where the simple-tensor
    decoder and the checked path could disagree), in any feature order."""
    n = draw(st.integers(0, 3))
    column = draw(st.booleans())
    nested = column and draw(st.booleans())
    out: list[dict[str, Any]] = []
    for name in draw(st.permutations(NAMES)):
        values: list[Any] = draw(st.lists(st.floats(-1e9, 1e9), min_size=n, max_size=n))
        out.append(
            {
                "name": name,
                "shape": [n, 1] if column else [n],
                "datatype": "FP64",
                "data": [[v] for v in values] if nested else values,
            }
        )
    tensor = out[draw(st.integers(0, len(out) - 1))]
    change = draw(st.sampled_from(_PERTURBATIONS))
    flat: list[Any] = [v[0] for v in tensor["data"]] if nested else list(tensor["data"])
    if change == "length":
        flat.append(1.0)
    elif flat and change in ("string", "null", "inf", "nan", "bool"):
        flat[0] = {"string": "1.5", "null": None, "inf": float("inf"), "nan": float("nan"), "bool": True}[change]
    elif change in ("bytes", "int-type", "unknown-type"):
        tensor["datatype"] = {"bytes": "BYTES", "int-type": "INT64", "unknown-type": "FP8"}[change]
    elif change == "nested":
        nested = not nested
    tensor["data"] = [[v] for v in flat] if nested else flat
    return out


@given(tensors())
@settings(max_examples=200, deadline=None)
def test_the_simple_tensor_decoder_never_accepts_what_the_checked_path_refuses(inputs: list[dict[str, Any]]) -> None:
    simple = _simple_tensor_rows(inputs, MODEL)
    if simple is None:
        return
    assert np.array_equal(_checked_rows(inputs, MODEL), simple)

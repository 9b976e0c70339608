"""Decoding OIP v2 inference requests into rows, and encoding predictions into responses.

The hot path parses with orjson and validates by hand: one numpy conversion for all
features in the common case (every value a finite number), and a slower, per-tensor
pass that names the exact feature, shape or value at fault when anything is off. Both
accept exactly what ``protocol.InferenceRequest`` documents.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from modelops.serving.errors import ServingError, bad_request
from modelops.serving.model import ServedModel
from modelops.serving.protocol import DATATYPES, OUTPUT_NAMES, PREDICT_OUTPUT, PROBA_OUTPUT, datatype_of

_INT_DATATYPES = frozenset(
    {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
)
_FLOAT_DATATYPES = frozenset({"FP16", "FP32", "FP64"})
_MATRIX_DATATYPES = _FLOAT_DATATYPES | _INT_DATATYPES
_NUMBER_KINDS = "fiub"
_LISTED = 8  # names listed in one error message before "…"


@dataclass(frozen=True)
class DecodedRequest:
    rows: npt.NDArray[Any]  # (n, n_features) in the model's feature order
    id: str | None  # the request's own "id", echoed in the response
    outputs: tuple[str, ...]  # output names to return, in order


def parse_json(body: bytes) -> Any:
    """The JSON body, or a 400 naming where it is broken.

    orjson is strict JSON; the standard library parser is the fallback for bodies that use
    the ``NaN``/``Infinity`` literals Python's ``json.dumps`` writes, so those values reach
    the NaN/infinity checks and get their precise message.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if b"NaN" in body or b"Infinity" in body:
            try:
                return json.loads(body)
            except (ValueError, RecursionError):
                pass
        raise bad_request(f"request body is not valid JSON: {exc}") from None


def _names(names: list[str] | tuple[str, ...] | set[str]) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:_LISTED])
    return shown + (", …" if len(names) > _LISTED else "")


def _check_tensor(inp: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    if not isinstance(inp, dict):
        raise bad_request(f"inputs[{index}] must be an object with name, shape, datatype and data")
    name = inp.get("name")
    if not isinstance(name, str):
        raise bad_request(f"inputs[{index}] needs a string 'name'")
    shape = inp.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise bad_request(f"input {name!r}: 'shape' must be a non-empty list of non-negative integers")
    datatype = inp.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise bad_request(
            f"input {name!r}: datatype {datatype!r} is not one of BOOL, INT8…INT64, UINT8…UINT64, "
            "FP16, FP32, FP64, BYTES"
        )
    data = inp.get("data")
    if not isinstance(data, list):
        raise bad_request(f"input {name!r}: 'data' must be a list (flat row-major or nested)")
    return name, shape, datatype, data


def _requested_outputs(request: dict[str, Any], model: ServedModel) -> tuple[str, ...]:
    parameters = request.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise bad_request("'parameters' must be an object")
    outputs = request.get("outputs")
    names: list[str] = []
    if outputs is not None:
        if not isinstance(outputs, list):
            raise bad_request("'outputs' must be a list of {\"name\": …} objects")
        for i, out in enumerate(outputs):
            name = out.get("name") if isinstance(out, dict) else None
            if not isinstance(name, str):
                raise bad_request(f"outputs[{i}] needs a string 'name'")
            if name not in OUTPUT_NAMES:
                raise bad_request(f"unknown output {name!r}: this model gives {_names(OUTPUT_NAMES)}")
            if name not in names:
                names.append(name)
    if parameters and parameters.get(PROBA_OUTPUT) and PROBA_OUTPUT not in names:
        if not names:
            names.append(PREDICT_OUTPUT)
        names.append(PROBA_OUTPUT)
    if not names:
        names.append(PREDICT_OUTPUT)
    if PROBA_OUTPUT in names and not model.supports_proba:
        raise bad_request(f"model {model.name!r} ({model.task}) cannot give {PROBA_OUTPUT}")
    return tuple(names)


def decode_request(body: bytes, model: ServedModel) -> DecodedRequest:
    """Rows for ``model`` from an OIP v2 request body, or a 400 that names the problem."""
    request = parse_json(body)
    if not isinstance(request, dict):
        raise bad_request("request body must be a JSON object with 'inputs'")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("request needs a non-empty list 'inputs'")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad_request("'id' must be a string")
    outputs = _requested_outputs(request, model)
    rows = _fast_rows(inputs, model)
    if rows is None:
        rows = _checked_rows(inputs, model)
    return DecodedRequest(rows=rows, id=request_id, outputs=outputs)


# -- fast path -------------------------------------------------------------------------


def _fast_rows(inputs: list[Any], model: ServedModel) -> npt.NDArray[np.float64] | None:
    """Rows of an all-numeric model in one numpy conversion, or None when anything is
    unusual (the checked path then decides, and explains)."""
    if not model.all_numeric:
        return None
    n_features = len(model.feature_names)
    try:
        if len(inputs) == 1 and len(inputs[0]["shape"]) == 2 and inputs[0]["shape"][1] != 1:
            inp = inputs[0]
            if inp["shape"][1] != n_features:
                return None
            arr = np.asarray(inp["data"])
            if not _fast_kind(inp["datatype"], arr):
                return None
            n = inp["shape"][0]
            if arr.size != n * n_features or type(n) is not int:
                return None
            if arr.ndim != 1 and arr.shape != (n, n_features):
                return None
            rows = arr.astype(np.float64, copy=False).reshape(n, n_features)
        else:
            if len(inputs) != n_features:
                return None
            index = model.feature_index
            ordered: list[Any] = [None] * n_features
            datatypes: set[str] = set()
            shape0 = inputs[0]["shape"]
            for inp in inputs:
                j = index[inp["name"]]  # KeyError: unknown name, decided by the checked path
                if ordered[j] is not None or inp["shape"] != shape0:
                    return None
                datatypes.add(inp["datatype"])
                ordered[j] = inp["data"]
            if len(shape0) > 2 or (len(shape0) == 2 and shape0[1] != 1):
                return None
            arr = np.asarray(ordered)
            if not all(_fast_kind(dt, arr) for dt in datatypes):
                return None
            n = shape0[0]
            if arr.size != n * n_features or type(n) is not int:
                return None
            # flat data, or nested [[v], …] only where the shape says [N, 1]
            if arr.ndim != 2 and not (len(shape0) == 2 and arr.shape == (n_features, n, 1)):
                return None
            rows = arr.astype(np.float64, copy=False).reshape(n_features, n).T
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    if not np.isfinite(rows).all():
        return None
    return np.ascontiguousarray(rows)


def _fast_kind(datatype: Any, arr: npt.NDArray[Any]) -> bool:
    """Plain numbers that need no per-value check for this datatype."""
    if datatype in _FLOAT_DATATYPES:
        return arr.dtype.kind in "fi"
    return datatype in _INT_DATATYPES and arr.dtype.kind == "i"


# -- checked path ----------------------------------------------------------------------


def _checked_rows(inputs: list[Any], model: ServedModel) -> npt.NDArray[Any]:
    tensors = [_check_tensor(inp, i) for i, inp in enumerate(inputs)]
    names = model.feature_names
    n_features = len(names)
    if len(tensors) == 1:
        name, shape, datatype, data = tensors[0]
        as_feature = name in model.feature_index
        if len(shape) == 2 and (not as_feature or shape[1] != 1):
            return _matrix_rows(name, shape, datatype, data, model)
        if not as_feature and n_features > 1:
            raise bad_request(
                f"input {name!r} is not a feature of model {model.name!r}: send one tensor per "
                f"feature ({_names(names)}) or one FP32/FP64 tensor of shape [N, {n_features}]"
            )
    seen: dict[str, tuple[list[int], str, list[Any]]] = {}
    for name, shape, datatype, data in tensors:
        if name in seen:
            raise bad_request(f"input {name!r} is given twice")
        seen[name] = (shape, datatype, data)
    unknown = [n for n in seen if n not in model.feature_index]
    missing = [n for n in names if n not in seen]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing feature(s) {_names(missing)}")
        if unknown:
            parts.append(f"unknown input(s) {_names(unknown)}")
        raise bad_request(f"{' and '.join(parts)}; model {model.name!r} takes {_names(names)}")
    n_rows: int | None = None
    first = ""
    columns: list[npt.NDArray[Any]] = []
    for feature in model.features:
        shape, datatype, data = seen[feature.name]
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise bad_request(
                f"input {feature.name!r} has shape {shape}; a feature's tensor must be [N] or [N, 1]"
            )
        if n_rows is None:
            n_rows, first = shape[0], feature.name
        elif shape[0] != n_rows:
            raise bad_request(
                f"inputs disagree on the number of rows: {first!r} has {n_rows}, "
                f"{feature.name!r} has {shape[0]}"
            )
        values = _values(feature.name, shape, datatype, data)
        if feature.kind == "numeric":
            columns.append(_numeric(feature.name, datatype, values, model))
        else:
            columns.append(_categorical(feature.name, datatype, values, model))
    if model.all_numeric:
        return np.ascontiguousarray(np.stack(columns, axis=1))
    rows = np.empty((n_rows or 0, n_features), dtype=object)
    for j, col in enumerate(columns):
        rows[:, j] = col
    return rows


def _values(name: str, shape: list[int], datatype: str, data: list[Any]) -> npt.NDArray[Any]:
    """The tensor's values as a flat array, after checking them against its shape."""
    expected = math.prod(shape)
    try:
        arr = np.asarray(data, dtype=object if datatype == "BYTES" else None)
    except ValueError:
        raise bad_request(f"input {name!r}: nested 'data' is ragged (rows of different lengths)") from None
    if arr.ndim > 1 and list(arr.shape) != shape:
        raise bad_request(f"input {name!r}: nested data has shape {list(arr.shape)}, 'shape' says {shape}")
    if arr.size != expected:
        raise bad_request(f"input {name!r}: shape {shape} needs {expected} values, 'data' has {arr.size}")
    if arr.dtype.kind in "US":
        # numpy turns [1.5, "a"] into strings; keep the client's own values for the message
        arr = np.asarray(data, dtype=object)
    return arr.reshape(-1)


def _position(values: npt.NDArray[Any], mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(
    name: str, datatype: str, values: npt.NDArray[Any], model: ServedModel
) -> npt.NDArray[np.float64]:
    if datatype == "BYTES":
        raise bad_request(f"feature {name!r} is numeric but was sent as BYTES; use FP64, FP32 or INT64")
    if values.dtype.kind in _NUMBER_KINDS:
        out = values.astype(np.float64)
    else:
        out = np.empty(values.size, dtype=np.float64)
        for i, v in enumerate(values.tolist()):
            if v is None:
                out[i] = np.nan
            elif isinstance(v, (int, float)):
                out[i] = float(v)
            else:
                raise bad_request(f"feature {name!r} ({datatype}): value {v!r} at row {i} is not a number")
    if datatype in _INT_DATATYPES and values.dtype.kind == "f":
        finite = out[np.isfinite(out)]
        if (finite != np.round(finite)).any():
            bad = finite[finite != np.round(finite)][0]
            raise bad_request(f"feature {name!r} ({datatype}): value {bad!r} is not an integer")
    infinite = np.isinf(out)
    if infinite.any():
        raise bad_request(
            f"feature {name!r}: infinite value at row {_position(out, infinite)}; values must be finite"
        )
    missing = np.isnan(out)
    if missing.any() and not model.allow_nan:
        raise bad_request(
            f"feature {name!r}: missing or NaN value at row {_position(out, missing)}, which model "
            f"{model.name!r} cannot take"
        )
    return out


def _categorical(
    name: str, datatype: str, values: npt.NDArray[Any], model: ServedModel
) -> npt.NDArray[Any]:
    out = values.astype(object)
    for i, v in enumerate(out.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if not model.allow_nan:
                raise bad_request(
                    f"feature {name!r}: missing value at row {i}, which model {model.name!r} cannot take"
                )
            out[i] = np.nan
        elif isinstance(v, float) and math.isinf(v):
            raise bad_request(f"feature {name!r}: infinite value at row {i}")
        elif not isinstance(v, (str, int, float, bool)):
            raise bad_request(
                f"feature {name!r} is categorical: value {v!r} at row {i} is not a string or number"
            )
    return out


def _matrix_rows(
    name: str, shape: list[int], datatype: str, data: list[Any], model: ServedModel
) -> npt.NDArray[Any]:
    n_features = len(model.feature_names)
    if shape[1] != n_features:
        raise bad_request(
            f"input {name!r} has shape {shape}: model {model.name!r} takes {n_features} features "
            f"({_names(model.feature_names)}), so send [N, {n_features}]"
        )
    if not model.all_numeric:
        categorical = [f.name for f in model.features if f.kind == "categorical"]
        raise bad_request(
            f"model {model.name!r} has categorical features ({_names(categorical)}): send one tensor "
            "per feature instead of one [N, F] matrix"
        )
    if datatype not in _MATRIX_DATATYPES:
        raise bad_request(f"input {name!r}: a [N, F] tensor must be FP32 or FP64, not {datatype}")
    values = _values(name, shape, datatype, data)
    flat = np.empty(values.size, dtype=np.float64)
    if values.dtype.kind in _NUMBER_KINDS:
        flat[:] = values.astype(np.float64)
    else:
        for i, v in enumerate(values.tolist()):
            if v is None:
                flat[i] = np.nan
            elif isinstance(v, (int, float)):
                flat[i] = float(v)
            else:
                raise bad_request(
                    f"input {name!r}: value {v!r} for feature {model.feature_names[i % n_features]!r} "
                    f"(row {i // n_features}) is not a number"
                )
    rows = flat.reshape(shape[0], n_features)
    for j, feature in enumerate(model.feature_names):
        col = rows[:, j]
        if np.isinf(col).any():
            raise bad_request(f"feature {feature!r}: infinite value at row {_position(col, np.isinf(col))}")
        if not model.allow_nan and np.isnan(col).any():
            raise bad_request(
                f"feature {feature!r}: missing or NaN value at row {_position(col, np.isnan(col))}, "
                f"which model {model.name!r} cannot take"
            )
    return np.ascontiguousarray(rows)


# -- encoding ----------------------------------------------------------------------------


def encode_response(
    model: ServedModel,
    response_id: str,
    outputs: tuple[str, ...],
    predictions: npt.NDArray[Any],
    probabilities: npt.NDArray[np.float64] | None,
) -> bytes:
    out: list[dict[str, Any]] = []
    n = int(predictions.shape[0])
    for name in outputs:
        if name == PREDICT_OUTPUT:
            out.append(
                {
                    "name": PREDICT_OUTPUT,
                    "shape": [n],
                    "datatype": datatype_of(predictions),
                    "data": predictions.tolist(),
                }
            )
        elif probabilities is not None:
            out.append(
                {
                    "name": PROBA_OUTPUT,
                    "shape": list(probabilities.shape),
                    "datatype": "FP64",
                    "data": probabilities.ravel().tolist(),
                }
            )
    return orjson.dumps(
        {"model_name": model.name, "model_version": model.version, "id": response_id, "outputs": out}
    )


def error_body(error: ServingError | str) -> bytes:
    return orjson.dumps({"error": error.message if isinstance(error, ServingError) else error})

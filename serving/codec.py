"""Decoding OIP v2 inference requests into rows, and encoding predictions into responses.

The hot path parses with orjson and validates by hand: one numpy conversion for all
features in the common case (every value a finite number), and a slower, per-tensor
pass that names the exact feature, shape or value at fault when anything is off. Both
accept exactly what ``protocol.InferenceRequest`` documents.

Large requests are decoded and encoded in a worker thread (see ``dataplane``); so that
such a thread never holds the GIL for long, long lists go through numpy and orjson in
pieces of ``_CHUNK`` values, which lets the event loop's thread in between.
"""

from __future__ import annotations

import json
import math
import re
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
_CHUNK = 1 << 16  # values per numpy/orjson call on long lists (~1-3 ms each)
MAX_ID_LENGTH = 1024
# What an HTTP header value can carry back (the id is echoed in x-request-id): Latin-1
# without control characters (tab allowed), as uvicorn's header checks require.
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_INT64_DIGITS = 20  # orjson's range is int64/uint64: at most 20 digits


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
        if len(body) >= _PIECEWISE_BODY:
            parsed = _parse_in_pieces(body)
            if parsed is not _UNSPLIT:
                return parsed
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if b"NaN" in body or b"Infinity" in body:
            try:
                return json.loads(body, parse_int=_int64)
            except (ValueError, RecursionError):
                pass
        raise bad_request(f"request body is not valid JSON: {exc}") from None


_PIECEWISE_BODY = 1 << 18  # bodies parsed in pieces from this size on
_PIECE_BYTES = 1 << 16  # a piece of a long list: ~1 ms of orjson
# A tensor's "data" key and the opening bracket of its list (JSON whitespace only).
_DATA_LIST = re.compile(rb'"data"[ \t\n\r]*:[ \t\n\r]*\[')
_FLAT_NUMBERS = b"0123456789eE+-.,"  # with JSON whitespace: all a flat list of numbers holds
_JSON_SPACE = b" \t\n\r"
_UNSPLIT = object()


def _parse_in_pieces(body: bytes) -> Any:
    """The body as ``orjson.loads`` gives it, with each long, flat list of numbers under a
    ``"data"`` key parsed in pieces of ~``_PIECE_BYTES`` (see the module docstring).

    The long lists are cut out and replaced by markers, the rest is parsed by orjson, and
    the markers found as tensors' ``data`` get their lists back. Anything unexpected (a
    nested or non-numeric list, a marker anywhere else, a piece orjson refuses) returns
    ``_UNSPLIT`` and the caller parses the whole body at once, which then decides.
    """
    skeleton: list[bytes] = []
    lists: list[tuple[int, int]] = []
    pos = 0
    for match in _DATA_LIST.finditer(body):
        start = match.end()
        if start < pos:
            continue
        end = body.find(b"]", start)
        if end < 0:
            break
        if end - start < _PIECE_BYTES:
            continue
        skeleton += (body[pos : start - 1], b'{"\\u0000piece":%d}' % len(lists))
        lists.append((start, end))
        pos = end + 1
    if not lists:
        return _UNSPLIT
    skeleton.append(body[pos:])
    try:
        parsed = orjson.loads(b"".join(skeleton))
    except orjson.JSONDecodeError:
        return _UNSPLIT
    tensors = parsed.get("inputs") if isinstance(parsed, dict) else None
    found: list[tuple[dict[str, Any], int]] = []
    for tensor in tensors if isinstance(tensors, list) else ():
        marker = tensor.get("data") if isinstance(tensor, dict) else None
        if isinstance(marker, dict) and list(marker) == ["\u0000piece"]:
            found.append((tensor, marker["\u0000piece"]))
    if sorted(k for _, k in found) != list(range(len(lists))):
        return _UNSPLIT
    for tensor, k in found:
        values = _numbers_in_pieces(body, *lists[k])
        if values is None:
            return _UNSPLIT
        tensor["data"] = values
    return parsed


def _numbers_in_pieces(body: bytes, start: int, end: int) -> list[Any] | None:
    """The numbers of ``body[start:end]`` (a list's inside), or None if it is not a
    flat list of numbers that orjson accepts piece by piece."""
    values: list[Any] = []
    i = start
    while i < end:
        j = body.find(b",", min(i + _PIECE_BYTES, end), end)
        j = end if j < 0 else j
        piece = body[i:j]
        if piece.translate(None, _FLAT_NUMBERS + _JSON_SPACE) or not piece.strip(_JSON_SPACE):
            return None  # not only numbers, or an empty element (",,", a trailing ",")
        try:
            values += orjson.loads(b"[" + piece + b"]")
        except orjson.JSONDecodeError:
            return None
        i = j + 1
    if body[end - 1 : end] == b",":
        return None  # "[1,2,]"
    return values


def _int64(text: str) -> int:
    """Integers as orjson takes them (64 bits), so both parsers refuse the same bodies;
    a longer one would overflow float conversion later (OverflowError, a 500)."""
    value = int(text) if len(text.lstrip("-")) <= _INT64_DIGITS else None
    if value is None or not -(1 << 63) <= value < (1 << 64):
        shown = text if len(text) <= 24 else f"{text[:12]}…{text[-4:]} ({len(text.lstrip('-'))} digits)"
        raise bad_request(f"request body has integer {shown}, out of the 64-bit range numbers must fit in")
    return value


def check_request_id(value: str, where: str) -> None:
    """Refuse an id that cannot be echoed in the ``x-request-id`` header, naming why."""
    if len(value) > MAX_ID_LENGTH:
        raise bad_request(f"{where} is {len(value)} characters long; at most {MAX_ID_LENGTH}")
    bad = _HEADER_UNSAFE.search(value)
    if bad is not None:
        raise bad_request(
            f"{where} {value[:64]!r} has {bad.group()!r} at position {bad.start()}: it is echoed in the "
            "x-request-id header, which takes Latin-1 text without control characters"
        )


def _array(data: list[Any], dtype: Any = None) -> npt.NDArray[Any]:
    """``np.asarray(data, dtype)``, in pieces for long lists (see the module docstring).

    When pieces come out with different dtypes (e.g. ``null`` in some), the whole list is
    converted at once, so the result is always what one ``np.asarray`` call gives.
    """
    if len(data) <= _CHUNK:
        return np.asarray(data, dtype=dtype)
    pieces = [np.asarray(data[i : i + _CHUNK], dtype=dtype) for i in range(0, len(data), _CHUNK)]
    first = pieces[0]
    if any(p.dtype != first.dtype or p.shape[1:] != first.shape[1:] for p in pieces):
        return np.asarray(data, dtype=dtype)
    return np.concatenate(pieces)


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
    if request_id is not None:
        if not isinstance(request_id, str):
            raise bad_request("'id' must be a string")
        check_request_id(request_id, "'id'")
    outputs = _requested_outputs(request, model)
    rows = _simple_tensor_rows(inputs, model)
    if rows is None:
        rows = _checked_rows(inputs, model)
    return DecodedRequest(rows=rows, id=request_id, outputs=outputs)


# -- simple-tensor decoder (the codec shortcut) -------------------------------------------


def _simple_tensor_rows(inputs: list[Any], model: ServedModel) -> npt.NDArray[np.float64] | None:
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
            arr = _array(inp["data"])
            if not _simple_kind(inp["datatype"], arr):
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
            columns = [_array(data) for data in ordered]
            if any(c.shape != columns[0].shape for c in columns):
                return None  # ragged: the checked path names the tensor
            arr = np.stack(columns)
            if not all(_simple_kind(dt, arr) for dt in datatypes):
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


def _simple_kind(datatype: Any, arr: npt.NDArray[Any]) -> bool:
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
        arr = _array(data, dtype=object if datatype == "BYTES" else None)
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
    *,
    parameters: dict[str, Any] | None = None,
) -> bytes:
    """The OIP v2 response; ``parameters`` (e.g. the feedback note) when given."""
    tensors: list[tuple[str, list[int], str, npt.NDArray[Any]]] = []
    for name in outputs:
        if name == PREDICT_OUTPUT:
            tensors.append((PREDICT_OUTPUT, [int(predictions.shape[0])], datatype_of(predictions), predictions))
        elif probabilities is not None:
            tensors.append((PROBA_OUTPUT, list(probabilities.shape), "FP64", probabilities.ravel()))
    head: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "id": response_id}
    if parameters:
        head["parameters"] = parameters
    if all(values.size <= _CHUNK for *_, values in tensors):
        out = [
            {"name": name, "shape": shape, "datatype": datatype, "data": values.tolist()}
            for name, shape, datatype, values in tensors
        ]
        return orjson.dumps({**head, "outputs": out})
    # Long outputs: the same JSON, written piece by piece (see the module docstring).
    parts = [orjson.dumps(head)[:-1], b',"outputs":[']
    for i, (name, shape, datatype, values) in enumerate(tensors):
        tensor = orjson.dumps({"name": name, "shape": shape, "datatype": datatype})[:-1]
        parts.extend((b"," if i else b"", tensor, b',"data":', _json_list(values), b"}"))
    parts.append(b"]}")
    return b"".join(parts)


def _json_list(values: npt.NDArray[Any]) -> bytes:
    pieces = (orjson.dumps(values[i : i + _CHUNK].tolist())[1:-1] for i in range(0, values.size, _CHUNK))
    return b"[" + b",".join(pieces) + b"]"


def error_body(error: ServingError | str) -> bytes:
    return orjson.dumps({"error": error.message if isinstance(error, ServingError) else error})

"""Large requests in pieces (issue 12, items 3 and 8): long lists are parsed, converted,
encoded and counted a piece at a time, with the same results as all at once; malformed
ids and numbers are 400s. In-process, no HTTP; the pieces are made small so that small
requests exercise them."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.drift.binning import Binner
from modelops.serving import codec, sketch
from modelops.serving.budget import BodyBudget
from modelops.serving.codec import decode_request, encode_response, parse_json
from modelops.serving.dataplane import parse_window
from modelops.serving.errors import ServingError
from tests.serving.models import rows, served

MODEL = served()
NAMES = list(MODEL.feature_names)


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "_PIECEWISE_BODY", 64)
    monkeypatch.setattr(codec, "_PIECE_BYTES", 16)
    monkeypatch.setattr(codec, "_CHUNK", 5)


def _body(x: np.ndarray[Any, Any], **extra: Any) -> bytes:
    tensors = [
        {"name": n, "shape": [len(x)], "datatype": "FP64", "data": x[:, j].tolist()} for j, n in enumerate(NAMES)
    ]
    return orjson.dumps({"inputs": tensors, **extra})


# -- parsing in pieces ---------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
)


@given(data=st.lists(numbers, min_size=0, max_size=60), spaces=st.sampled_from(["", " ", "\n  "]))
@settings(max_examples=200, deadline=None)
def test_pieces_parse_to_what_orjson_parses(data: list[Any], spaces: str) -> None:
    codec_pieces = (codec._PIECEWISE_BODY, codec._PIECE_BYTES)
    codec._PIECEWISE_BODY, codec._PIECE_BYTES = 64, 16
    try:
        inner = ("," + spaces).join(orjson.dumps(v).decode() for v in data)
        body = f'{{"id":"a","inputs":[{{"name":"x","data" :{spaces}[{spaces}{inner}{spaces}]}}]}}'.encode()
        assert parse_json(body) == orjson.loads(body)
    finally:
        codec._PIECEWISE_BODY, codec._PIECE_BYTES = codec_pieces


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,,13]}]}',  # empty element
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,]}]}',  # trailing comma
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,13 14]}]}',  # missing comma
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,1e999999]}]}',  # out of range
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,--3]}]}',
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,13]}]',  # unclosed object
    ],
)
def test_broken_long_lists_are_refused_as_invalid_json(body: bytes) -> None:
    with pytest.raises(ServingError) as refused:
        parse_json(body)
    assert refused.value.status == 400


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs":[{"data":[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12]]}]}',  # nested: whole
        b'{"inputs":[{"data":["a","b","c","d","e","f","g","h","i"]}]}',  # strings: whole
        b'{"inputs":[{"a\\"data":[1,2,3,4,5,6,7,8,9,10,11,12,13]}]}',  # a key ending in "data
        b'{"inputs":[{"data":{"\\u0000piece":0}},{"data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}',
        b'{"inputs":[{"data":[1,2,3,4,5,6,7,8,9,10,11,12,13],"data":[1]}]}',  # last one wins
        b'{"x":{"data":[1,2,3,4,5,6,7,8,9,10,11,12,13]},"inputs":[]}',  # not a tensor's data
    ],
)
def test_anything_unusual_is_parsed_whole_with_the_same_result(body: bytes) -> None:
    assert parse_json(body) == orjson.loads(body)


@pytest.mark.usefixtures("small_pieces")
def test_long_requests_decode_and_encode_like_short_ones() -> None:
    x = rows(40)
    decoded = decode_request(_body(x, id="req-1", parameters={"predict_proba": True}), MODEL)
    assert np.array_equal(decoded.rows, x)
    predictions = MODEL.predict(x)
    probabilities = MODEL.predict_proba(x)
    pieces = encode_response(MODEL, "req-1", decoded.outputs, predictions, probabilities, parameters={"a": "b"})
    codec._CHUNK = 1 << 16  # the fixture restores it
    whole = encode_response(MODEL, "req-1", decoded.outputs, predictions, probabilities, parameters={"a": "b"})
    assert orjson.loads(pieces) == orjson.loads(whole)
    assert orjson.loads(whole)["parameters"] == {"a": "b"}


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize(
    "data",
    [
        [1, 2, 3, 4, 5, 6.5, 7, 8, 9, 10, 11, 12],  # ints in one piece, floats in another
        [1.0, 2.0, 3.0, 4.0, 5.0, None, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],  # null in one piece
        [True, False, True, True, False, 3, 1, 2, 3, 4, 5, 6],
        ["a", "b", "c", "d", "e", 1.5, 1, 2, 3, 4, 5, 6],
    ],
)
def test_lists_converted_in_pieces_are_what_one_conversion_gives(data: list[Any]) -> None:
    whole = np.asarray(data)
    pieces = codec._array(data)
    assert pieces.dtype == whole.dtype
    assert pieces.tolist() == whole.tolist()


# -- ids and numbers a response cannot carry (item 8) ----------------------------------------


@pytest.mark.parametrize(
    ("rid", "words"),
    [
        ("訂單-1", ["'訂'", "position 0", "x-request-id"]),
        ("a\r\nSet-Cookie: x=1", ["'\\r'", "position 1"]),
        ("tab\tis fine but nul\x00 is not", ["'\\x00'"]),
        ("x" * 1025, ["1025 characters", "1024"]),
    ],
)
def test_ids_that_cannot_be_echoed_are_refused(rid: str, words: list[str]) -> None:
    with pytest.raises(ServingError) as refused:
        decode_request(_body(rows(1), id=rid), MODEL)
    assert refused.value.status == 400
    for word in words:
        assert word in refused.value.message


def test_latin1_ids_and_tabs_are_echoed() -> None:
    assert decode_request(_body(rows(1), id="café\t1"), MODEL).id == "café\t1"


@pytest.mark.parametrize("digits", [21, 400, 5000])
def test_long_integers_in_the_fallback_parser_are_400(digits: int) -> None:
    """NaN sends the body to the standard library parser, which takes integers of any
    length; float() of one past 1e308 raised OverflowError (a 500)."""
    body = _body(rows(1)).replace(b'"data":[', b'"data":[NaN,' + b"9" * digits + b",", 1)
    with pytest.raises(ServingError) as refused:
        decode_request(body, MODEL)
    assert refused.value.status == 400
    assert "64-bit" in refused.value.message


@pytest.mark.parametrize(
    ("window", "word"),
    [
        ("9" * 400, "(400 characters)"),
        ("99999999999999h", "'99999999999999h'"),  # past timedelta's range: OverflowError
        ("0", "positive"),
        ("1" + "0" * 400 + "s", "(402 characters)"),
        ("nan", "'nan'"),
    ],
)
def test_windows_out_of_range_are_400(window: str, word: str) -> None:
    """Each of these was a 500 (OverflowError from timedelta or from ceil(inf))."""
    with pytest.raises(ServingError) as refused:
        parse_window(window)
    assert refused.value.status == 400
    assert word in refused.value.message


# -- monitoring of huge batches, and the body budget -----------------------------------------


def test_huge_batches_are_counted_in_pieces_with_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    x = rows(1000)
    predictions = MODEL.predict(x)

    def counted() -> Any:
        s = sketch.DriftSketch(MODEL.profile, model="m", version="v", bucket_seconds=60, window_seconds=600)
        s.add(x, predictions, now=1_000_000.0)
        return s.window(600, now=1_000_000.0).buckets[0]

    whole = counted()
    monkeypatch.setattr(sketch, "_CHUNK", 64)
    pieces = counted()
    assert whole.rows == pieces.rows == 1000
    assert np.array_equal(whole.counts, pieces.counts)
    assert np.array_equal(whole.output, pieces.output)
    assert np.array_equal(whole.output, Binner(MODEL.profile).output_counts(predictions))


def test_the_body_budget_refuses_past_its_limit_and_recovers() -> None:
    budget = BodyBudget(100, retry_after_seconds=2)
    budget.take(60)
    with pytest.raises(ServingError) as refused:
        budget.take(50)
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "2"}
    assert "limit is 100 bytes" in refused.value.message
    assert budget.used == 60  # a refusal holds nothing
    budget.give(60)
    budget.take(100)

"""Routable feedback ids (pure): signed, naming their replica, and where feedback goes."""

from __future__ import annotations

import pytest

from modelops.serving.feedback_ids import (
    NO_ADDRESS,
    FeedbackIds,
    Forward,
    Local,
    ParsedId,
    Refuse,
    key_from_env,
    route,
)

KEY = b"shared by the deployment"


def test_ids_name_their_replica_and_are_unique() -> None:
    ids = FeedbackIds("10.0.0.5:8080", KEY)
    issued = {ids.issue() for _ in range(1000)}
    assert len(issued) == 1000
    other = FeedbackIds("10.0.0.6:8080", KEY)  # a replica of another version, same key
    assert other.parse(next(iter(issued))) == ParsedId("10.0.0.5:8080", ids.instance)


def test_a_forged_or_altered_id_fails_its_signature() -> None:
    ids = FeedbackIds("10.0.0.5:8080", KEY)
    real = ids.issue()
    address, instance, serial, mac = real.split(".")
    forged = ".".join((FeedbackIds("10.9.9.9:80", b"guess").issue().split(".")[0], instance, serial, mac))
    for bad in (forged, f"{address}.{instance}.{serial}.{'0' * 16}", real[:-1] + ("0" if real[-1] != "0" else "1")):
        parsed = ids.parse(bad)
        assert isinstance(parsed, str)
        assert "fails its signature" in parsed
    assert "issues" in str(ids.parse("a.b"))


def test_without_a_shared_key_only_a_replicas_own_ids_verify() -> None:
    one, two = FeedbackIds("10.0.0.5:8080", None), FeedbackIds("10.0.0.6:8080", None)
    assert isinstance(one.parse(one.issue()), ParsedId)
    refused = two.parse(one.issue())
    assert isinstance(refused, str)
    assert "MODELOPS_FEEDBACK_KEY is not set" in refused


def test_the_key_comes_from_the_environment() -> None:
    assert key_from_env({"MODELOPS_FEEDBACK_KEY": "k"}) == b"k"
    assert key_from_env({"MODELOPS_FEEDBACK_KEY": ""}) is None
    assert key_from_env({}) is None


ME = FeedbackIds("10.0.0.5:8080", KEY)


OTHER = FeedbackIds("10.0.0.6:8080", KEY)  # a replica of another version, same key


@pytest.mark.parametrize(
    ("issuer", "held", "expected"),
    [
        (None, True, Local()),  # a client's id held here
        (None, False, Local()),  # a client's id not held: the store says why (404)
        (ME, False, Local()),  # ours, forgotten: the store says why (404)
        (OTHER, False, Forward("10.0.0.6:8080")),
        (OTHER, True, Local()),  # already scored here
    ],
    ids=["client-held", "client-unknown", "ours-forgotten", "another-replica", "another-replica-held"],
)
def test_feedback_is_scored_where_the_prediction_is(issuer: FeedbackIds | None, held: bool, expected: object) -> None:
    feedback_id = issuer.issue() if issuer is not None else "req-1"
    assert route(ME, feedback_id, held=held, forwarded=False) == expected


def test_a_forged_id_is_400_and_never_forwarded() -> None:
    decided = route(ME, FeedbackIds("10.0.0.6:8080", b"not the key").issue(), held=False, forwarded=False)
    assert isinstance(decided, Refuse)
    assert decided.status == 400
    assert "fails its signature" in decided.message


def test_an_id_of_a_restarted_replica_or_forwarded_twice_is_gone() -> None:
    restarted = FeedbackIds("10.0.0.5:8080", KEY)  # same address, another process
    decided = route(ME, restarted.issue(), held=False, forwarded=False)
    assert isinstance(decided, Refuse)
    assert decided.status == 410
    assert "10.0.0.5:8080" in decided.message
    # a replica forwarded to that does not hold it never sends it on (no loops)
    decided = route(ME, FeedbackIds("10.0.0.7:8080", KEY).issue(), held=False, forwarded=True)
    assert isinstance(decided, Refuse)
    assert decided.status == 410


def test_an_id_of_a_replica_without_an_address_is_not_forwarded() -> None:
    decided = route(ME, FeedbackIds(None, KEY).issue(), held=False, forwarded=False)
    assert isinstance(decided, Refuse)
    assert decided.status == 404
    assert NO_ADDRESS not in ME.address

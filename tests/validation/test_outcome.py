"""The outcome as a termination message: at most 4096 bytes, the worst failing figure kept."""

from __future__ import annotations

import orjson

from modelops.validation.errors import CannotValidateError
from modelops.validation.figures import Figure
from modelops.validation.outcome import TERMINATION_LIMIT, Outcome


def _groups(n: int, failing_every: int) -> list[Figure]:
    """``n`` per-group recall figures; every ``failing_every``-th fails, worse for higher i."""
    return [
        Figure("recall", 0.5 - i / (10 * n) if i % failing_every == 0 else 0.9, 0.6, "min",
               f"postcode=area-{i:05d}-with-a-long-name")
        for i in range(n)
    ]


def test_everything_fits_when_it_is_small() -> None:
    outcome = Outcome.judged(_groups(5, failing_every=2))
    message = orjson.loads(outcome.termination_message(report="file:///models/v1.validation.json"))
    assert message["reason"] == "ValidationFailed"
    assert len(message["results"]) == 5
    assert "omitted" not in message
    assert message["report"] == "file:///models/v1.validation.json"
    assert message["results"][0] == {"metric": "recall", "group": "postcode=area-00000-with-a-long-name",
                                     "value": 0.5, "limit": 0.6, "bound": "min", "verdict": "Fail"}


def test_passing_figures_give_way_to_failing_ones_first() -> None:
    figures = _groups(300, failing_every=20)  # 15 failing
    outcome = Outcome.judged(figures)
    data = outcome.termination_message()
    assert len(data) <= TERMINATION_LIMIT
    message = orjson.loads(data)
    assert [r["verdict"] for r in message["results"]] == ["Fail"] * 15
    assert message["omitted"] == {"Pass": 285}
    # worst first: the group with the lowest recall
    assert message["results"][0]["group"] == "postcode=area-00280-with-a-long-name"
    assert message["message"].startswith("recall of postcode=area-00280-with-a-long-name is ")


def test_too_many_failing_figures_keep_the_worst_and_count_the_rest() -> None:
    outcome = Outcome.judged(_groups(500, failing_every=1))
    data = outcome.termination_message()
    assert len(data) <= TERMINATION_LIMIT
    message = orjson.loads(data)
    kept = len(message["results"])
    assert 0 < kept < 500
    assert message["omitted"] == {"Fail": 500 - kept}
    assert message["results"][0]["group"] == "postcode=area-00499-with-a-long-name"
    # and the full report still has them all
    assert len(outcome.report()["results"]) == 500


def test_a_huge_message_is_clipped_to_fit() -> None:
    exc = CannotValidateError("TargetMissing", "colonne « " + "é" * 6000 + " » absente")
    data = Outcome.error(exc).termination_message(report="s3://bucket/" + "x" * 3000)
    assert len(data) <= TERMINATION_LIMIT
    message = orjson.loads(data)
    assert (message["reason"], message["problem"]) == ("ValidationError", "TargetMissing")
    assert message["message"].endswith("…")
    assert message["retryable"] is False

"""Shadow mirroring over real HTTP: a stable ``modelops serve`` mirrors a share of its infer
requests to a candidate process and exports the comparison; users only see its own answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelops.operator.analysis import exposition, names
from modelops.operator.analysis.samples import series_key
from tests.serving.support import (
    ProcessServer,
    build_shuffled_lr,
    cancer_data,
    infer_body,
    metric_values,
    process_server,
    wait_until,
)

pytestmark = pytest.mark.integration

X, _, NAMES = cancer_data()
LABELS = (("candidate", "v2"), ("model", "cancer"), ("version", "v1"))


@pytest.fixture(scope="module")
def candidate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    v2 = tmp_path_factory.mktemp("v2") / "cancer"
    build_shuffled_lr(v2)
    with process_server(v2, "--model-version", "v2") as server:
        yield server


def _shadow(url: str, name: str) -> dict[str, float]:
    """A shadow metric's values, by outcome for the requests counter ("" for the others)."""
    values = metric_values(httpx.get(f"{url}/metrics").text, name)
    out: dict[str, float] = {}
    for labels, value in values.items():
        rest = tuple(kv for kv in labels if kv[0] != "outcome")
        assert rest == LABELS
        out[dict(labels).get("outcome", "")] = value
    return out


def _predict(url: str, rows: slice, **headers: str) -> httpx.Response:
    response = httpx.post(f"{url}/v2/models/cancer/infer", json=infer_body(X[rows], NAMES), headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_a_share_is_mirrored_compared_and_counted(candidate: ProcessServer, lr_artifact: Path) -> None:
    rows_before = sum(metric_values(httpx.get(f"{candidate.url}/metrics").text, "modelops_rows_total").values())
    mirrored_rows = agreed = 0
    with process_server(
        lr_artifact, "--model-version", "v1",
        "--shadow-url", candidate.url, "--shadow-percent", "50", "--shadow-version", "v2",
    ) as stable:  # fmt: skip
        assert _shadow(stable.url, "modelops_shadow_requests_total") == {"answered": 0, "error": 0, "dropped": 0}
        for i in range(20):
            rows = slice(3 * i, 3 * i + 1 + i % 3)  # 1 to 3 rows
            ours = _predict(stable.url, rows).json()
            assert ours["model_version"] == "v1"  # users only ever see the stable's answers
            if i % 2 == 0:  # 50%: the first of every two
                theirs = _predict(candidate.url, rows).json()
                pairs = zip(ours["outputs"][0]["data"], theirs["outputs"][0]["data"], strict=True)
                mirrored_rows += len(ours["outputs"][0]["data"])
                agreed += sum(a == b for a, b in pairs)
        wait_until(
            lambda: _shadow(stable.url, "modelops_shadow_requests_total").get("answered") == 10, 30, "10 answers"
        )
        assert _shadow(stable.url, "modelops_shadow_requests_total") == {"answered": 10, "error": 0, "dropped": 0}
        assert _shadow(stable.url, "modelops_shadow_rows_total") == {"": mirrored_rows}
        assert _shadow(stable.url, "modelops_shadow_agreed_rows_total") == {"": agreed}
        assert 0 < agreed < mirrored_rows  # the shuffled-label candidate disagrees on some rows
        assert _shadow(stable.url, "modelops_shadow_duration_seconds_count") == {"": 10}
        # the operator's rollout analysis reads these very series
        scraped = exposition.parse(httpx.get(f"{stable.url}/metrics").text)
        assert {*names.SHADOW, names.SHADOW_LATENCY_BUCKET} <= scraped.families
        key = series_key(names.SHADOW_REQUESTS, {**dict(LABELS), names.OUTCOME: names.ANSWERED})
        assert scraped.values[key] == 10
    # the candidate served the mirrored rows (and the test's own) as traffic: its outputs count
    rows_after = sum(metric_values(httpx.get(f"{candidate.url}/metrics").text, "modelops_rows_total").values())
    assert rows_after - rows_before == 2 * mirrored_rows


def test_a_mirrored_request_is_not_remembered_for_feedback_nor_mirrored_on(candidate: ProcessServer) -> None:
    answer = _predict(candidate.url, slice(0, 1), **{"x-modelops-shadow": "v1"})
    assert "x-feedback-id" not in answer.headers
    rid = answer.headers["x-request-id"]
    feedback = httpx.post(f"{candidate.url}/v2/models/cancer/feedback", json={"id": rid, "label": 1})
    assert feedback.status_code == 404
    assert "x-feedback-id" in _predict(candidate.url, slice(0, 1)).headers  # a user's request is


def test_a_candidate_that_refuses_connections_only_counts_errors(lr_artifact: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, not listening: refused
        with process_server(
            lr_artifact, "--model-version", "v1",
            "--shadow-url", url, "--shadow-percent", "100", "--shadow-version", "v2",
        ) as stable:  # fmt: skip
            for i in range(8):
                assert _predict(stable.url, slice(i, i + 1)).json()["model_version"] == "v1"
            wait_until(lambda: _shadow(stable.url, "modelops_shadow_requests_total").get("error") == 8, 30, "8 errors")
            assert _shadow(stable.url, "modelops_shadow_rows_total") == {"": 0}


def test_a_full_queue_drops_and_counts_never_delaying_users(lr_artifact: Path) -> None:
    with socket.socket() as hole:  # accepts connections (backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        with process_server(
            lr_artifact, "--model-version", "v1", "--shadow-url", url, "--shadow-percent", "100",
            "--shadow-version", "v2", "--shadow-queue", "1", "--shadow-timeout", "60",
        ) as stable:  # fmt: skip
            for i in range(20):
                assert _predict(stable.url, slice(i, i + 1)).status_code == 200
            outcomes = _shadow(stable.url, "modelops_shadow_requests_total")
            # four workers each wait on one request, one more waits in the queue: the rest drop
            assert outcomes["dropped"] >= 15
            assert outcomes["answered"] == 0

"""Feedback counts wherever it lands (issue 13): three real ``modelops serve`` processes on
127.0.0.2-4 serving two versions of one deployment, sharing MODELOPS_FEEDBACK_KEY.

Every prediction's feedback is posted to a replica other than the one that made it, so each
is forwarded, across versions too; it must be scored exactly once, for the version that
made the prediction, and retries must count nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.serving.feedback_ids import FeedbackIds
from tests.serving.support import (
    ProcessServer,
    build_shuffled_lr,
    cancer_data,
    infer_body,
    metric_values,
    process_server,
)

pytestmark = pytest.mark.integration

X, Y, NAMES = cancer_data()
KEY = {"MODELOPS_FEEDBACK_KEY": "test-deployment-key"}
VERSIONS = ("v1", "v1", "v2")


@pytest.fixture(scope="module")
def pods(lr_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ProcessServer]]:
    v2 = tmp_path_factory.mktemp("v2") / "cancer"
    build_shuffled_lr(v2)
    with (
        process_server(lr_artifact, "--model-version", "v1", host="127.0.0.2", env=KEY) as a,
        process_server(lr_artifact, "--model-version", "v1", host="127.0.0.3", env=KEY) as b,
        process_server(v2, "--model-version", "v2", host="127.0.0.4", env=KEY) as c,
    ):
        yield [a, b, c]


def _feedback(pod: ProcessServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{pod.url}/v2/models/cancer/feedback", json=body, timeout=10)


def _sums(pods: list[ProcessServer], name: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for pod in pods:
        for labels, value in metric_values(httpx.get(f"{pod.url}/metrics").text, name).items():
            total[dict(labels)["version"]] += int(value)
    return total


def test_feedback_posted_anywhere_counts_once_for_the_version_that_predicted(pods: list[ProcessServer]) -> None:
    rows_before = _sums(pods, "modelops_feedback_rows_total")
    correct_before = _sums(pods, "modelops_feedback_correct_total")
    made: list[tuple[str, str, int, int]] = []  # feedback id, version, rows, correct
    with httpx.Client(timeout=10) as client:
        for i in range(30):
            pod = pods[i % 3]
            rows = slice(2 * i, 2 * i + 2)
            answer = client.post(f"{pod.url}/v2/models/cancer/infer", json=infer_body(X[rows], NAMES))
            assert answer.status_code == 200
            body = answer.json()
            assert body["model_version"] == VERSIONS[i % 3]  # responses name the version that answered
            feedback_id = answer.headers["x-feedback-id"]
            assert body["id"] == answer.headers["x-request-id"] == feedback_id  # no id of the client's
            predicted = body["outputs"][0]["data"]
            correct = sum(int(p == t) for p, t in zip(predicted, Y[rows], strict=True))
            made.append((feedback_id, body["model_version"], 2, correct))

        for i, (feedback_id, version, rows_n, correct) in enumerate(made):
            labels = Y[2 * i : 2 * i + 2].tolist()
            scored = _feedback(pods[(i + 1) % 3], {"id": feedback_id, "labels": labels})  # never the owner
            assert scored.status_code == 200, scored.text
            assert scored.json()["model_version"] == version
            assert (scored.json()["rows"], scored.json()["correct"]) == (rows_n, correct)
            assert scored.json()["already_scored"] is False
            assert scored.headers["x-modelops-scored-by"] == pods[i % 3].url.removeprefix("http://")

        for i, (feedback_id, _, _, correct) in enumerate(made):  # retried, wherever
            again = _feedback(pods[(i + 2) % 3], {"id": feedback_id, "labels": [0, 0]})
            assert again.status_code == 200, again.text
            assert again.json()["already_scored"] is True
            assert again.json()["correct"] == correct

    expected_rows: Counter[str] = Counter()
    expected_correct: Counter[str] = Counter()
    for _, version, rows_n, correct in made:
        expected_rows[version] += rows_n
        expected_correct[version] += correct
    assert expected_rows == Counter({"v1": 40, "v2": 20})
    assert _sums(pods, "modelops_feedback_rows_total") - rows_before == expected_rows
    assert _sums(pods, "modelops_feedback_correct_total") - correct_before == expected_correct


def test_a_forged_id_is_400_and_an_unknown_one_404(pods: list[ProcessServer]) -> None:
    answer = httpx.post(f"{pods[0].url}/v2/models/cancer/infer", json=infer_body(X[:1], NAMES))
    real = answer.headers["x-feedback-id"]
    altered = real[:-1] + ("0" if real[-1] != "0" else "1")
    outsider = FeedbackIds(pods[0].url.removeprefix("http://"), b"a guessed key").issue()
    for forged in (altered, outsider):
        refused = _feedback(pods[1], {"id": forged, "label": 1})
        assert refused.status_code == 400
        assert "fails its signature" in refused.json()["error"]
    unknown = _feedback(pods[1], {"id": "never-issued", "label": 1})
    assert unknown.status_code == 404
    assert "x-feedback-id" in unknown.json()["error"]
    assert _feedback(pods[2], {"id": real, "label": int(Y[0])}).status_code == 200  # the real one counts


def test_a_clients_own_id_scores_where_it_was_answered_and_its_feedback_id_anywhere(
    pods: list[ProcessServer],
) -> None:
    answer = httpx.post(
        f"{pods[1].url}/v2/models/cancer/infer", json=infer_body(X[:1], NAMES), headers={"x-request-id": "client-7"}
    )
    assert answer.headers["x-request-id"] == answer.json()["id"] == "client-7"
    feedback_id = answer.json()["parameters"]["feedback_id"]
    assert feedback_id == answer.headers["x-feedback-id"]
    elsewhere = _feedback(pods[0], {"id": "client-7", "label": 1})
    assert elsewhere.status_code == 404
    assert "known only to the replica that answered it" in elsewhere.json()["error"]
    assert _feedback(pods[1], {"id": "client-7", "label": 1}).json()["already_scored"] is False
    again = _feedback(pods[2], {"id": feedback_id, "label": 1})  # the same prediction by its routable id
    assert again.json()["already_scored"] is True


def test_feedback_for_a_replica_that_is_gone_is_410_naming_it(pods: list[ProcessServer], lr_artifact: Path) -> None:
    with process_server(lr_artifact, "--model-version", "v1", host="127.0.0.5", env=KEY) as gone:
        feedback_id = httpx.post(f"{gone.url}/v2/models/cancer/infer", json=infer_body(X[:1], NAMES)).headers[
            "x-feedback-id"
        ]
        address = gone.url.removeprefix("http://")
    refused = _feedback(pods[0], {"id": feedback_id, "label": 1})
    assert refused.status_code == 410
    assert address in refused.json()["error"]

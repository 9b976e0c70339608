"""Monitoring from the serving pods: feedback scoring, drift counts that add up exactly
across replicas, and Prometheus metrics; each replica a real app over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelops.drift.binning import Binner
from modelops.drift.counts import DriftCounts, merge
from modelops.serving.app import create_app
from modelops.serving.config import ServingConfig
from modelops.serving.dataplane import DataPlane
from tests.serving.support import cancer_data, infer_body, thread_server, wait_until

pytestmark = pytest.mark.integration

X, Y, NAMES = cancer_data()


_REPLICAS: list[DataPlane] = []  # the data planes behind the `replicas` clients


def _replica(artifact: Path) -> DataPlane:
    dataplane = DataPlane(ServingConfig(model_dir=artifact, model_version="v1", max_batch_size=16))
    dataplane.load()
    assert dataplane.ready, dataplane.reason
    _REPLICAS.append(dataplane)
    return dataplane


def _counted_so_far() -> bool:
    """Whether the replicas' monitoring has counted every answer given so far (it follows
    the answers, by a few milliseconds): counts read as a baseline must not move after."""
    return all(d._serving is None or d._serving.batcher.caught_up() for d in _REPLICAS)


@pytest.fixture(scope="module")
def replicas(lr_artifact: Path) -> Iterator[list[httpx.Client]]:
    first, second = _replica(lr_artifact), _replica(lr_artifact)
    with thread_server(create_app(first, load=False)) as url1, thread_server(
        create_app(second, load=False)
    ) as url2, httpx.Client(base_url=url1, timeout=30) as c1, httpx.Client(base_url=url2, timeout=30) as c2:
        yield [c1, c2]
    _REPLICAS.clear()


def _drift(client: httpx.Client, window: str = "1h") -> DriftCounts:
    response = client.get("/v2/models/cancer/drift", params={"window": window})
    assert response.status_code == 200, response.text
    return DriftCounts.from_json(response.json())


def test_drift_counts_of_two_replicas_merge_to_the_counts_of_all_rows(
    replicas: list[httpx.Client], lr_artifact: Path
) -> None:
    from modelops.artifact import load_artifact

    before = [_drift(c) for c in replicas]
    loaded = load_artifact(lr_artifact)
    rng = np.random.default_rng(7)
    rows = X[rng.permutation(len(X))[:120]] * rng.normal(1.0, 0.2, (120, X.shape[1]))
    halves = {0: rows[:70], 1: rows[70:]}
    for i, part in halves.items():
        for start in range(0, len(part), 10):  # requests of different sizes: 10 rows, then 1
            replicas[i].post("/v2/models/cancer/infer", json=infer_body(part[start : start + 9], NAMES))
            replicas[i].post("/v2/models/cancer/infer", json=infer_body(part[start + 9 : start + 10], NAMES))

    def counted() -> bool:
        return sum(_drift(c).rows - b.rows for c, b in zip(replicas, before, strict=True)) == len(rows)

    wait_until(counted, 30, "the replicas to count every row")  # counting follows the answer
    merged = merge(*[_drift(c) for c in replicas])
    baseline = merge(*before)
    binner = Binner(loaded.profile)
    assert merged.layout_digest == loaded.profile.layout_digest
    assert merged.features == tuple(NAMES)
    assert merged.rows - baseline.rows == len(rows)
    assert np.array_equal(merged.feature_totals() - baseline.feature_totals(), binner.feature_counts(rows))
    predictions = loaded.model.predict(rows)
    assert np.array_equal(merged.output_totals() - baseline.output_totals(), binner.output_counts(predictions))
    assert all(b.start % merged.bucket_seconds == 0 for b in merged.buckets)


def test_drift_window_must_fit_what_the_replica_keeps(replicas: list[httpx.Client]) -> None:
    assert replicas[0].get("/v2/models/cancer/drift", params={"window": "2h"}).status_code == 400
    assert replicas[0].get("/v2/models/cancer/drift", params={"window": "soon"}).status_code == 400
    short = replicas[0].get("/v2/models/cancer/drift", params={"window": "5m"}).json()
    assert short["end"] - short["start"] == 300
    assert replicas[0].get("/v2/models/other/drift").status_code == 404


def test_drift_summed_is_the_sum_of_the_per_bucket_answer(replicas: list[httpx.Client]) -> None:
    client = replicas[0]
    for start in range(0, 40, 8):
        assert client.post("/v2/models/cancer/infer", json=infer_body(X[start : start + 8], NAMES)).status_code == 200
    wait_until(lambda: _drift(client).rows >= 40, 30, "the replica to count the rows")
    for _ in range(5):  # retried only if a minute boundary falls between the two requests
        buckets = _drift(client)
        response = client.get("/v2/models/cancer/drift", params={"window": "1h", "summed": "true"})
        assert response.status_code == 200, response.text
        summed = DriftCounts.from_json(response.json())
        if (summed.start, summed.rows) == (buckets.start, buckets.rows):
            break
    assert len(summed.buckets) == 1
    assert (summed.start, summed.end, summed.layout_digest) == (buckets.start, buckets.end, buckets.layout_digest)
    assert summed.buckets[0].start == summed.start
    assert summed.rows == buckets.rows
    assert np.array_equal(summed.feature_totals(), buckets.feature_totals())
    assert np.array_equal(summed.output_totals(), buckets.output_totals())
    explicit = client.get("/v2/models/cancer/drift", params={"window": "1h", "summed": "false"}).json()
    assert len(explicit["buckets"]) == len(buckets.buckets)


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_drift_summed_refuses_anything_but_true_or_false(replicas: list[httpx.Client], value: str) -> None:
    response = replicas[0].get("/v2/models/cancer/drift", params={"window": "1h", "summed": value})
    assert response.status_code == 400
    assert "summed must be true or false" in response.text


def _infer(client: httpx.Client, rows: Any, rid: str) -> list[Any]:
    response = client.post("/v2/models/cancer/infer", json=infer_body(rows, NAMES), headers={"x-request-id": rid})
    assert response.status_code == 200
    return list(response.json()["outputs"][0]["data"])


def test_feedback_scores_remembered_predictions(replicas: list[httpx.Client]) -> None:
    client = replicas[1]
    predicted = _infer(client, X[:10], "fb-1")
    truth = [int(p) for p in predicted]
    truth[0] = 1 - truth[0]  # one wrong prediction out of ten
    response = client.post("/v2/models/cancer/feedback", json={"id": "fb-1", "labels": truth})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"] == 10
    assert body["correct"] == 9
    assert body["model_version"] == "v1"
    assert body["rolling_accuracy"] == pytest.approx(0.9)

    (one,) = _infer(client, X[20:21], "fb-2")
    body = client.post("/v2/models/cancer/feedback", json={"id": "fb-2", "label": str(one)}).json()
    assert body["correct"] == 1  # "1" and 1 are the same label
    assert body["rolling_accuracy"] == pytest.approx(10 / 11)

    again = client.post("/v2/models/cancer/feedback", json={"id": "fb-2", "label": 1 - one})
    assert again.status_code == 200  # a retry is answered with the first figures ...
    assert again.json()["already_scored"] is True
    assert again.json()["correct"] == 1  # ... whatever labels it carries, and counts nothing

    metrics = client.get("/metrics").text
    assert re.search(r'^modelops_feedback_rows_total\{model="cancer",version="v1"\} 11\.0$', metrics, re.M)
    assert re.search(r'^modelops_feedback_correct_total\{model="cancer",version="v1"\} 10\.0$', metrics, re.M)
    accuracy = re.search(r'^modelops_rolling_accuracy\{model="cancer",version="v1"\} (\S+)$', metrics, re.M)
    assert accuracy is not None
    assert float(accuracy.group(1)) == pytest.approx(10 / 11)


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"id": "fb-3", "labels": [1, 0, 1]}, 400, "1 row"),
        ({"id": "fb-3", "labels": [1], "label": 1}, 400, "either"),
        ({"id": "fb-3"}, 400, "labels"),
        ({"id": "never-seen", "label": 1}, 404, "'never-seen'"),
        ({"labels": [1]}, 400, "id"),
    ],
)
def test_bad_feedback_is_refused(replicas: list[httpx.Client], body: dict[str, Any], status: int, word: str) -> None:
    _infer(replicas[0], X[:1], "fb-3")
    response = replicas[0].post("/v2/models/cancer/feedback", json=body)
    assert response.status_code == status
    assert word in response.json()["error"]


def test_metrics_count_requests_batches_and_classes(replicas: list[httpx.Client]) -> None:
    client = replicas[0]

    def value(name: str, **labels: str) -> float:
        text = client.get("/metrics").text
        wanted = {"model": "cancer", "version": "v1", **labels}
        for line in text.splitlines():
            found = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
            if found and dict(re.findall(r'(\w+)="([^"]*)"', found.group(1))) == wanted:
                return float(found.group(2))
        return 0.0

    wait_until(_counted_so_far, 10, "the answers of earlier tests to be counted")
    ok, bad = value("modelops_requests_total", code="200"), value("modelops_requests_total", code="400")
    rows = value("modelops_rows_total")
    predicted = _infer(client, X[:5], "m-1")
    client.post("/v2/models/cancer/infer", json={"inputs": []})
    assert value("modelops_requests_total", code="200") == ok + 1
    assert value("modelops_requests_total", code="400") == bad + 1

    def per_class() -> float:
        return sum(value("modelops_predictions_total", **{"class": str(c)}) for c in (0, 1))

    # counted by the predict worker once the answers are out: wait for it
    wait_until(
        lambda: value("modelops_rows_total") == rows + 5 and per_class() == rows + 5, 10, "the batch to be counted"
    )
    assert value("modelops_batch_size_count") >= 1
    assert value("modelops_request_duration_seconds_count") >= 2
    assert len(predicted) == 5
    assert value("modelops_ready") == 1.0

"""The Shadow names contract end to end, with real processes: the operator's own manifests run.

The stable and candidate Deployments the operator plans for a Shadow rollout are taken as they
are; their ``serve`` containers' args run as real ``modelops serve`` processes on 127.0.0.1, with
only what a cluster provides replaced (the model directory the init container fills, port 0,
and the candidate Service's DNS name, which only resolves in a cluster, by the candidate
process's address). Traffic to the stable process is mirrored to the candidate; the operator's
Pods metrics source scrapes both and gets the ShadowSample an identical candidate must give:
every compared row agreeing, every mirrored request answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.pods import PodsSource
from modelops.operator.analysis.sources import Observation, PodTarget, Query
from modelops.operator.analysis.verdicts import SHADOW_METRICS, evaluate_observation
from tests.operator.objects import deployment, model_deployment, model_version
from tests.operator.strategies.support import applied, run, stable_status
from tests.serving.support import ProcessServer, build_lr, cancer_data, free_port, infer_body, wait_until

pytestmark = pytest.mark.integration

REQUESTS = 40
PERCENT = 50
X, _, NAMES = cancer_data()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("shadow") / "model"
    return out, build_lr(out)


def _manifests(sha: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stable and candidate Deployments the operator applies when a Shadow of v2 starts
    (the same artifact for both versions: an identical candidate)."""
    strategy = {"type": "Shadow", "shadow": {"mirrorPercent": PERCENT, "then": "Promote"}}
    obj = model_deployment(version="churn-v2", replicas=1, strategy=strategy, status=stable_status())
    p = run(obj, versions=[model_version("churn-v1", sha=sha), model_version("churn-v2", sha=sha)],
            deployments=[deployment("churn-churn-v1", "churn-v1", replicas=1, available=1)])
    return applied(p, "Deployment", "churn-churn-v1"), applied(p, "Deployment", "churn-churn-v2")


def _local_args(dep: dict[str, Any], model_dir: Path, port: int = 0, shadow_url: str | None = None) -> list[str]:
    """The ``serve`` container's args minus the subcommand, with the cluster's parts made local."""
    args = list(dep["spec"]["template"]["spec"]["containers"][0]["args"])
    assert args[0] == "serve"
    local = {"--model-dir": str(model_dir), "--port": str(port)}
    if shadow_url is not None:
        local["--shadow-url"] = shadow_url
    out = args[1:]
    for flag, value in local.items():
        out[out.index(flag) + 1] = value
    return out


def _target(server: ProcessServer, version: str) -> PodTarget:
    port = int(server.url.rsplit(":", 1)[1])
    return PodTarget(name=f"churn-{version}-0", ip="127.0.0.1", version=version, port=port)


@pytest.fixture(scope="module")
def pods(artifact: tuple[Path, str]) -> Iterator[tuple[ProcessServer, ProcessServer, list[str]]]:
    model_dir, sha = artifact
    stable_dep, candidate_dep = _manifests(sha)
    port = free_port()  # the candidate's, known before it starts: both processes start at once
    stable_args = _local_args(stable_dep, model_dir, shadow_url=f"http://127.0.0.1:{port}")
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(ProcessServer, model_dir, *_local_args(candidate_dep, model_dir, port)),
                    pool.submit(ProcessServer, model_dir, *stable_args)]
        wait([*starting])
    started = [f.result() for f in starting if f.exception() is None]
    try:
        candidate, stable = (f.result() for f in starting)
        candidate.wait_ready()
        stable.wait_ready()
        yield stable, candidate, list(stable_dep["spec"]["template"]["spec"]["containers"][0]["args"])
    finally:
        for server in started:
            server.stop()


def test_the_operators_mirror_flags_give_the_pods_source_an_agreement_of_one(
    pods: tuple[ProcessServer, ProcessServer, list[str]],
) -> None:
    stable, candidate, manifest_args = pods
    assert manifest_args[-6:] == ["--shadow-url", "http://churn-churn-v2.default.svc:8080", "--shadow-percent",
                                  str(PERCENT), "--shadow-version", "churn-v2"]
    source = PodsSource(pod_timeout=5.0, deadline=15.0)
    query = Query("default", "churn", "churn", "churn-v1", "churn-v2", timedelta(seconds=60),
                  (_target(stable, "churn-v1"), _target(candidate, "churn-v2")))
    baseline = asyncio.run(source.observe(query))
    assert baseline.baseline
    assert baseline.failures == ()
    rows = 0
    for i in range(REQUESTS):
        batch = X[2 * i : 2 * i + 1 + i % 2]  # 1 or 2 rows
        answer = httpx.post(f"{stable.url}/v2/models/churn/infer", json=infer_body(batch, NAMES))
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == "churn-v1"  # users only ever get the stable's answers
        rows += len(batch) if i % 2 == 0 else 0  # the first of every two is mirrored (50%)

    def all_answered() -> bool:
        text = httpx.get(f"{stable.url}/metrics").text
        return f'modelops_shadow_requests_total{{candidate="churn-v2",model="churn",outcome="answered",' \
               f'version="churn-v1"}} {REQUESTS * PERCENT // 100}.0' in text

    wait_until(all_answered, 15, "every mirrored request answered")
    observed: Observation = asyncio.run(source.observe(query))
    assert observed.failures == ()
    shadow = observed.shadow["churn-v2"]
    assert (shadow.mirrored, shadow.errors, shadow.compared, shadow.agreed) == (REQUESTS // 2, 0, rows, rows)
    assert shadow.agreed / shadow.compared == 1.0
    assert observed.sample("churn-v2").requests == REQUESTS // 2  # the candidate served exactly the mirrored share
    assert observed.sample("churn-v1").requests == REQUESTS
    thresholds = Thresholds(min_samples=10, shadow_min_samples=10)
    verdicts = evaluate_observation(observed, "churn-v1", "churn-v2", thresholds, datetime.now(UTC),
                                    metrics=SHADOW_METRICS)
    by_metric = {r.metric: r for r in verdicts.results}
    assert (by_metric["agreement"].verdict, by_metric["agreement"].value) == ("Pass", 1.0)
    assert by_metric["shadowErrorRate"].verdict == "Pass"
    assert by_metric["errorRate"].verdict == "Pass"
    assert by_metric["predictionPSI"].value is not None  # both versions' /drift output counts were read

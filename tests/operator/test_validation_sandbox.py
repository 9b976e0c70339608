"""For real, in the sandbox: a ModelVersion that declares validation runs its Job as a local
`modelops validate` process, and becomes Ready (or not) with its figures in `kubectl get mv -o yaml`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.sandbox.cluster import Sandbox
from tests.operator.harness import wait_for
from tests.operator.validation_jobs import SENSITIVE, build, holdout_csv, validated_version

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = Sandbox(workdir=tmp_path_factory.mktemp("sandbox"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _mv(sandbox: Sandbox, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(sandbox.kubectl("get", "mv", name, "-o", "yaml"))
    return doc


def _validated(sandbox: Sandbox, name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        obj = _mv(sandbox, name)
        cond = next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Validated"), None)
        return obj if cond is not None and cond["status"] in ("True", "False") else None

    return wait_for(done, f"{name} validated", timeout=150)


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == type_)


def test_validation_jobs_run_as_processes_and_their_figures_land_in_status(sandbox: Sandbox, tmp_path: Path) -> None:
    fair, biased = build(tmp_path / "fair", biased=False), build(tmp_path / "biased", biased=True)
    spec = {"holdoutUri": holdout_csv(tmp_path / "holdout.csv"), "metrics": [{"name": "roc_auc", "min": 0.8}],
            "fairness": {"sensitiveFeature": SENSITIVE, "maxDemographicParityDifference": 0.1}}
    docs = [validated_version("churn-fair", fair, spec), validated_version("churn-biased", biased, spec)]
    sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    good = _validated(sandbox, "churn-fair")
    assert _condition(good, "Validated")["reason"] == "ValidationPassed"
    assert _condition(good, "Ready")["status"] == "True"
    results = {(r["metric"], r.get("group")): r for r in good["status"]["validation"]["results"]}
    assert results[("roc_auc", None)]["verdict"] == "Pass"
    assert results[("roc_auc", None)]["value"] >= 0.8
    assert results[("demographic_parity_difference", SENSITIVE)]["limit"] == 0.1
    assert good["status"]["validation"]["job"] == "churn-fair-validate"
    assert good["status"]["validation"]["completedAt"]

    bad = _validated(sandbox, "churn-biased")
    assert _condition(bad, "Validated")["reason"] == "ValidationFailed"
    assert _condition(bad, "Ready")["status"] == "False"
    assert _condition(bad, "Validated")["message"].startswith("demographic_parity_difference")
    parity = next(r for r in bad["status"]["validation"]["results"] if r["metric"] == "demographic_parity_difference")
    assert parity["verdict"] == "Fail"
    assert parity["value"] > 0.1

    # The Job ran as a pod of the sandbox; its report went beside the artifact.
    jobs = yaml.safe_load(sandbox.kubectl("get", "jobs", "-o", "yaml"))["items"]
    assert {j["metadata"]["name"]: j["status"].get("succeeded") for j in jobs} == {
        "churn-fair-validate": 1, "churn-biased-validate": 1}
    assert (tmp_path / "fair.churn-fair.validation.json").exists()

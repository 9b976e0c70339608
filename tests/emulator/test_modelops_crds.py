"""The project's own CRDs (crds/*.yaml) and example manifests, through kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.emulator.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "manifests" / "examples"
API = "modelops.dev/v1alpha1"

if not list(CRDS.glob("*.yaml")):  # pragma: no cover - only before `make crds` has run
    pytest.skip("crds/*.yaml are not generated yet", allow_module_level=True)


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    with running_emulator(tmp_path / "kubeconfig") as handle:
        handle.kubectl("apply", "-f", str(CRDS))
        yield handle


def table(handle: EmulatorHandle, *args: str) -> list[list[str]]:
    return [line.split() for line in handle.kubectl("get", *args).stdout.strip().splitlines()]


def condition(kind: str, status: str, reason: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": "", "observedGeneration": 1,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}


def test_crds_register_the_three_kinds_with_short_names(cluster: EmulatorHandle) -> None:
    resources = cluster.kubectl("api-resources", "--api-group=modelops.dev").stdout
    for short, kind in (("mv", "ModelVersion"), ("mdep", "ModelDeployment"), ("dp", "DriftPolicy")):
        assert any(row.split()[1:2] == [short] and kind in row for row in resources.splitlines()), resources
    assert "Warning" not in cluster.kubectl("get", "mv").stderr


def test_examples_apply_and_show_their_printer_columns(cluster: EmulatorHandle) -> None:
    assert "created" in cluster.kubectl("apply", "-k", str(EXAMPLES)).stdout
    cluster.patch_status(API, "ModelDeployment", "churn", {
        "observedGeneration": 1, "phase": "Progressing", "stable": "churn-v1", "candidate": "churn-v2",
        "weight": 10, "conditions": [condition("Ready", "True", "Serving")]})
    mdep = table(cluster, "mdep")
    assert mdep[0] == ["NAME", "STABLE", "CANDIDATE", "WEIGHT", "PHASE", "READY", "AGE"]
    assert mdep[1][:6] == ["churn", "churn-v1", "churn-v2", "10", "Progressing", "True"]
    mv = table(cluster, "mv")
    assert mv[0] == ["NAME", "MODEL", "FORMAT", "READY", "AGE"]
    assert mv[1][:3] == ["churn-v1", "churn", "skops"]
    dp = table(cluster, "dp")
    assert dp[0][:2] == ["NAME", "TARGET"]
    assert dp[1][:2] == ["churn-drift", "churn"]


def test_model_version_spec_is_immutable(cluster: EmulatorHandle, tmp_path: Path) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "modelversion.yaml"))
    changed = yaml.safe_load((EXAMPLES / "modelversion.yaml").read_text())
    changed["spec"]["artifact"]["uri"] = "s3://models/churn/elsewhere/"
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    result = cluster.kubectl("apply", "-f", str(path), check=False)
    assert result.returncode != 0
    assert "ModelVersion spec is immutable" in result.stderr


def test_kubectl_wait_for_a_ready_model_version(cluster: EmulatorHandle) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "modelversion.yaml"))
    cluster.patch_status(API, "ModelVersion", "churn-v1", {
        "observedGeneration": 1, "conditions": [condition("Ready", "True", "Verified")]})
    assert "condition met" in cluster.kubectl("wait", "--for=condition=Ready", "mv/churn-v1", "--timeout=10s").stdout


def test_explain_describes_model_deployment_fields(cluster: EmulatorHandle) -> None:
    explained = cluster.kubectl("explain", "mdep.spec").stdout
    assert "KIND:       ModelDeployment" in explained
    assert "strategy" in explained

"""Issue 12 item 6: what the API server itself refuses, through kubectl, with the generated CRDs.

The emulator evaluates the CRDs' patterns and CEL rules (its CEL subset is enough for the
name rules); kubectl both installs the CRDs and reports the refusals, as on a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api.resources import MODEL_DEPLOYMENT, MODEL_VERSION
from modelops.emulator import rules
from modelops.emulator.testing import EmulatorHandle, running_emulator

CRDS = Path(__file__).resolve().parents[2] / "crds"
API = "modelops.dev/v1alpha1"
SHA = "a" * 64


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path / "kubeconfig") as handle:
        out = handle.kubectl("apply", "-f", str(CRDS))  # kubectl accepts the generated CRDs
        assert "customresourcedefinition.apiextensions.k8s.io/modeldeployments.modelops.dev created" in out.stdout
        yield handle


def _mdep(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ModelDeployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"model": "churn", "version": "churn-v1", **spec}}


def _mv(name: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name, "namespace": "default"},
            "spec": {"model": "churn", "artifact": {"uri": "file:///a", "sha256": SHA}}}


def _create(k8s: EmulatorHandle, obj: dict[str, Any]) -> tuple[int, str]:
    done = k8s.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["2024-churn", "9churn"])
def test_a_model_deployment_name_that_cannot_name_a_service_is_refused(k8s: EmulatorHandle, name: str) -> None:
    code, out = _create(k8s, _mdep(name))
    assert code != 0
    assert "metadata.name must be a DNS-1035 label" in out
    assert k8s.find(API, "ModelDeployment", name) is None


def test_a_good_name_is_admitted(k8s: EmulatorHandle) -> None:
    assert _create(k8s, _mdep("churn-2024")) == (0, "modeldeployment.modelops.dev/churn-2024 created\n")
    assert _create(k8s, _mv("churn-v1"))[0] == 0


def test_a_model_version_name_that_cannot_be_a_label_value_is_refused(k8s: EmulatorHandle) -> None:
    code, out = _create(k8s, _mv("churn.v1"))
    assert code != 0
    assert "metadata.name must be a DNS-1123 label" in out


@pytest.mark.parametrize("deadline", ["99999999999999h", "1h1h1h1h1h", "1d"])
def test_durations_beyond_the_pattern_bounds_are_refused(k8s: EmulatorHandle, deadline: str) -> None:
    code, out = _create(k8s, _mdep("churn", strategy={"progressDeadline": deadline}))
    assert code != 0
    assert "spec.strategy.progressDeadline" in out


@pytest.mark.parametrize(("value", "admitted"), [("250m", True), ("1.5Gi", True), (2, True), ("lots", False),
                                                 ("1 Gi", False)])
def test_quantities_follow_the_kubernetes_syntax(k8s: EmulatorHandle, value: Any, admitted: bool) -> None:
    code, out = _create(k8s, _mdep("churn", resources={"requests": {"cpu": value}}))
    assert (code == 0) is admitted, out
    if not admitted:
        assert "spec.resources.requests.cpu" in out


@pytest.mark.parametrize("kind", [MODEL_DEPLOYMENT, MODEL_VERSION], ids=lambda k: k.kind)
def test_name_rules_are_within_the_emulators_cel_subset(kind: Any) -> None:
    # An unsupported rule would make the emulator refuse every object (RuleError), so check it here.
    crd = yaml.safe_load((CRDS / f"modelops.dev_{kind.plural}.yaml").read_text())
    (rule,) = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"]
    assert rules.evaluate(rule["rule"], {"metadata": {"name": "churn-v1"}})
    assert not rules.evaluate(rule["rule"], {"metadata": {"name": "x" * 64}})
    assert not rules.evaluate(rule["rule"], {"metadata": {"name": "churn.v1"}})
    assert rules.evaluate(rule["rule"], {"metadata": {"name": "2024-churn"}}) is (kind is MODEL_VERSION)
    # metadata.name has no maxLength for the API server's CEL cost estimate (it assumes ~3 MiB):
    # a regex over it is refused as too costly when the CRD is created, so none is used.
    assert "matches(" not in rule["rule"]

"""`kubectl apply -k` of manifests/default, then manifests/examples, against the API emulator.

This is the README's install on a cluster, end to end through the real kubectl: client-side
validation against the served OpenAPI (which a CRD schema kubectl cannot read would break), the
emulator's own schema validation of the examples, and a second apply that changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.emulator.testing import running_emulator
from tests.manifests.kustomize import MANIFESTS, by_kind, kustomize

pytestmark = pytest.mark.e2e


def test_install_then_examples_with_kubectl(tmp_path: Path) -> None:
    expected = kustomize(MANIFESTS / "default")
    with running_emulator(tmp_path / "kubeconfig") as k8s:
        installed = k8s.kubectl("apply", "-k", str(MANIFESTS / "default")).stdout
        assert installed.count(" created") == len(expected), installed
        k8s.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")

        applied = k8s.kubectl("apply", "-k", str(MANIFESTS / "examples")).stdout
        assert sorted(applied.split()) == sorted(
            [
                "modelversion.modelops.dev/churn-v1",
                "modeldeployment.modelops.dev/churn",
                "driftpolicy.modelops.dev/churn-drift",
                *["created"] * 3,
            ]
        )
        names = k8s.kubectl("get", "mv,mdep,dp", "-o", "name").stdout.split()
        assert sorted(names) == sorted(
            [
                "modelversion.modelops.dev/churn-v1",
                "modeldeployment.modelops.dev/churn",
                "driftpolicy.modelops.dev/churn-drift",
            ]
        )

        again = k8s.kubectl("apply", "-k", str(MANIFESTS / "default")).stdout
        # A PodDisruptionBudget's selector has patchStrategy "replace": kubectl's client-side
        # patch for it is never empty, so a real cluster says "configured" on every apply too.
        budgets = len(by_kind(expected, "PodDisruptionBudget"))
        assert again.count(" unchanged") == len(expected) - budgets, again
        assert again.count("poddisruptionbudget.policy/modelops-operator configured") == budgets, again
        stored = k8s.get("apps/v1", "Deployment", "modelops-operator", namespace="modelops-system")
        [rendered] = by_kind(expected, "Deployment")
        assert stored["spec"]["template"] == rendered["spec"]["template"]

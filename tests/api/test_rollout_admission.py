"""Issue 13: rollout specs the CRD itself refuses (CEL and enums), through kubectl and the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.api.modeldeployment import INCREASING_WEIGHTS, SHADOW_THEN_CANARY
from modelops.emulator import rules
from modelops.emulator.testing import EmulatorHandle, running_emulator

CRDS = Path(__file__).resolve().parents[2] / "crds"
API = "modelops.dev/v1alpha1"


@pytest.fixture(scope="module")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path_factory.mktemp("admission") / "kubeconfig", crds=[CRDS]) as handle:
        yield handle


def _create(k8s: EmulatorHandle, name: str, **spec: Any) -> tuple[int, str]:
    obj = {"apiVersion": API, "kind": "ModelDeployment", "metadata": {"name": name, "namespace": "default"},
           "spec": {"model": "churn", "version": "churn-v1", **spec}}
    done = k8s.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)
    return done.returncode, done.stdout + done.stderr


def _canary(*weights: int) -> dict[str, Any]:
    return {"type": "Canary", "canary": {"steps": [{"weight": w, "pause": "1m"} for w in weights]}}


@pytest.mark.parametrize(("name", "spec", "field"), [
    ("w-zero", {"strategy": _canary(0, 50)}, "spec.strategy.canary.steps[0].weight"),
    ("w-over", {"strategy": _canary(50, 101)}, "spec.strategy.canary.steps[1].weight"),
    ("w-down", {"strategy": _canary(50, 20)}, "weights must increase"),
    ("w-same", {"strategy": _canary(10, 20, 20)}, "weights must increase"),
    ("w-none", {"strategy": {"type": "Canary", "canary": {"steps": []}}}, "spec.strategy.canary.steps"),
    ("gw", {"router": "GatewayAPI"}, "spec.gateway: required when spec.router is GatewayAPI"),
    ("ab", {"strategy": {"type": "ABTest", "abTest": {"metric": "roc_auc"}}}, "spec.strategy.abTest.metric"),
    ("sh-steps", {"strategy": {"type": "Shadow"}}, "spec.strategy.canary.steps: required when"),
    ("sh-canary", {"strategy": {"type": "Shadow", "shadow": {"then": "Canary"}, "canary": {}}},
     "spec.strategy.canary.steps: required when"),
    ("sh-zero", {"strategy": {"type": "Shadow", "shadow": {"mirrorPercent": 0, "then": "Promote"}}},
     "spec.strategy.shadow.mirrorPercent"),
    ("sh-agree", {"strategy": {"type": "Shadow", "shadow": {"then": "Promote"}, "analysis": {"minAgreement": 2}}},
     "spec.strategy.analysis.minAgreement"),
])
def test_bad_rollout_specs_are_refused_naming_the_field(
    k8s: EmulatorHandle, name: str, spec: dict[str, Any], field: str
) -> None:
    code, out = _create(k8s, name, **spec)
    assert code != 0, out
    assert field in out
    assert k8s.find(API, "ModelDeployment", name) is None


@pytest.mark.parametrize(("name", "spec"), [
    ("ok-steps", {"strategy": _canary(10, 50, 100)}),
    ("ok-one", {"strategy": _canary(100)}),
    ("ok-default", {"strategy": {"type": "Canary"}}),
    ("ok-gw", {"router": "GatewayAPI", "gateway": {"parentRefs": [{"name": "public-gw"}]}}),
    ("ok-ab", {"strategy": {"type": "ABTest", "abTest": {"metric": "errorRate"}}}),
    ("ok-sh-promote", {"strategy": {"type": "Shadow", "shadow": {"mirrorPercent": 10, "then": "Promote"}}}),
    ("ok-sh-canary", {"strategy": {**_canary(20, 50), "type": "Shadow"}}),
])
def test_good_rollout_specs_are_admitted(k8s: EmulatorHandle, name: str, spec: dict[str, Any]) -> None:
    code, out = _create(k8s, name, **spec)
    assert code == 0, out


def test_the_weights_rule_is_within_the_emulators_cel_subset() -> None:
    steps = [{"weight": w} for w in range(1, 33)]
    assert rules.evaluate(INCREASING_WEIGHTS, {"steps": steps})
    assert not rules.evaluate(INCREASING_WEIGHTS, {"steps": [*steps[:31], {"weight": 31}]})  # the last pair
    assert rules.evaluate(INCREASING_WEIGHTS, {})


def test_the_shadow_rule_is_within_the_emulators_cel_subset() -> None:
    steps = {"canary": {"steps": [{"weight": 20}]}}
    assert rules.evaluate(SHADOW_THEN_CANARY, {})
    assert rules.evaluate(SHADOW_THEN_CANARY, {"type": "Canary"})
    assert not rules.evaluate(SHADOW_THEN_CANARY, {"type": "Shadow"})
    assert not rules.evaluate(SHADOW_THEN_CANARY, {"type": "Shadow", "shadow": {"then": "Canary"}, "canary": {}})
    assert rules.evaluate(SHADOW_THEN_CANARY, {"type": "Shadow", **steps})
    assert rules.evaluate(SHADOW_THEN_CANARY, {"type": "Shadow", "shadow": {"then": "Promote"}})

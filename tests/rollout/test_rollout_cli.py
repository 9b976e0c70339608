"""``modelops rollout``: the rendering (pure) and the commands against the emulator with its kubeconfig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.cli import main
from modelops.emulator.testing import EmulatorHandle, running_emulator
from modelops.rollout.render import plain, tables

CRDS = Path(__file__).resolve().parents[2] / "crds"
API = "modelops.dev/v1alpha1"

MID_CANARY: dict[str, Any] = {
    "apiVersion": API, "kind": "ModelDeployment",
    "metadata": {"name": "churn", "namespace": "default"},
    "spec": {"model": "churn", "version": "churn-v2", "replicas": 4,
             "strategy": {"type": "Canary", "canary": {"steps": [{"weight": 20, "pause": "1m"},
                                                                 {"weight": 50, "pause": "1m"}]}}},
    "status": {
        "phase": "Progressing", "stable": "churn-v1", "candidate": "churn-v2", "weight": 33, "step": 1,
        "stepStartedAt": "2026-11-30T12:00:00Z", "stepVerdict": "Inconclusive",
        "analysis": [{"metric": "errorRate", "value": 0.25, "threshold": 1.0, "samples": 812,
                      "verdict": "Pass", "time": "2026-11-30T12:01:00Z"},
                     {"metric": "accuracyDrop", "value": 0.031, "threshold": 0.02, "samples": 120,
                      "verdict": "Inconclusive", "time": "2026-11-30T12:01:00Z"}],
        "conditions": [{"type": "Progressing", "status": "True", "reason": "RollingOut",
                        "message": "step 2/2, weight 50%", "lastTransitionTime": "2026-11-30T12:00:00Z"}],
    },
}


def test_the_steps_table_marks_passed_current_and_pending_steps() -> None:
    steps = next(s for s in tables(MID_CANARY) if s.title == "Steps")
    assert steps.rows == (("1", "20%", "1m", "passed"),
                          ("2", "50%", "1m", "current (analysis Inconclusive, since 2026-11-30T12:00:00Z)"))


def test_plain_text_names_weights_and_analysis_figures() -> None:
    text = plain(MID_CANARY)
    assert text.splitlines()[0] == ("default/churn  strategy Canary  phase Progressing  stable churn-v1  "
                                    "candidate churn-v2  weight 33%")
    assert "accuracyDrop  0.031  0.02       120      Inconclusive" in text
    assert "errorRate     0.25   1          812      Pass" in text


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path / "kubeconfig", crds=[CRDS]) as k8s:
        k8s.seed(dict(MID_CANARY))
        yield k8s


def test_status_reads_the_cluster_with_the_kubeconfig(cluster: EmulatorHandle,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rollout", "status", "churn", "--kubeconfig", str(cluster.kubeconfig)])
    out = capsys.readouterr().out
    assert code == 0
    assert "weight 33%" in out
    assert "Steps:" in out


@pytest.mark.parametrize("verb", ["promote", "abort", "retry"])
def test_actions_set_the_one_shot_annotation(cluster: EmulatorHandle, capsys: pytest.CaptureFixture[str],
                                             verb: str) -> None:
    code = main(["rollout", verb, "churn", "-n", "default", "--kubeconfig", str(cluster.kubeconfig)])
    assert code == 0
    assert f"{verb} requested" in capsys.readouterr().out
    annotations = cluster.get(API, "ModelDeployment", "churn")["metadata"]["annotations"]
    assert annotations == {"modelops.dev/action": verb}


def test_a_missing_deployment_is_an_error_naming_it(cluster: EmulatorHandle,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rollout", "status", "nope", "--kubeconfig", str(cluster.kubeconfig)])
    assert code == 1
    assert "ModelDeployment default/nope not found" in capsys.readouterr().err

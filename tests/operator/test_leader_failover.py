"""Two operator processes against the emulator: only the Lease holder acts; failover resumes.

Short lease settings (3 s lease, 2 s renew deadline, 0.5 s retry) keep these tests to seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import IMAGE, has_condition, play_deployment_controller, seed_mid_rollout, wait_deployment, wait_for

pytestmark = pytest.mark.integration
MODELOPS = Path(sys.executable).with_name("modelops")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Replica:
    def __init__(self, k8s: EmulatorHandle, identity: str, log: Path) -> None:
        self.identity = identity
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [str(MODELOPS), "operator", "--kubeconfig", str(k8s.kubeconfig), "--image", IMAGE,
             "--health-port", "0", "--metrics-port", "0", "--ready-port", "0", "--workers", "2",
             "--resync", "5s", "--backoff-max", "2s",
             "--leader-elect", "--leader-election-namespace", "default", "--leader-election-identity", identity,
             "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "0.5s"],
            stdout=self._out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def writes_since(self, k8s: EmulatorHandle, since: float) -> list[str]:
        agent = f"modelops-operator/{self.identity}"
        return [f"{r.method} {r.path}" for r in list(k8s.requests)
                if r.user_agent == agent and r.method in WRITES and r.at > since]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._out.close()


@pytest.fixture
def replicas(k8s: EmulatorHandle, tmp_path: Path) -> Iterator[dict[str, Replica]]:
    started: dict[str, Replica] = {}
    yield started
    for replica in started.values():
        replica.stop()


def holder(k8s: EmulatorHandle) -> str:
    lease = k8s.find("coordination.k8s.io/v1", "Lease", "modelops-operator")
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def _history(obj: dict[str, Any]) -> list[str]:
    return [h["version"] for h in (obj.get("status") or {}).get("history") or ()]


def test_the_standby_finishes_a_rollout_when_the_leader_is_killed(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact], replicas: dict[str, Replica], tmp_path: Path
) -> None:
    seed_mid_rollout(k8s, artifacts)
    replicas["a"] = Replica(k8s, "a", tmp_path / "a.log")
    wait_for(lambda: holder(k8s) == "a", "a to lead", timeout=60)
    replicas["b"] = Replica(k8s, "b", tmp_path / "b.log")
    # The leader creates the candidate's Deployment (mid-rollout); the standby writes nothing.
    wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "the candidate's Deployment", 60)
    before = wait_deployment(k8s, "the rollout observed", lambda o: has_condition(o, "Progressing", "True"))
    time.sleep(1.0)  # b is up and watching by now (or soon): it must stay quiet while a leads
    assert replicas["b"].writes_since(k8s, 0.0) == []

    replicas["a"].process.kill()  # SIGKILL: no release of the Lease, b waits for it to expire
    replicas["a"].process.wait(10)
    wait_for(lambda: holder(k8s) == "b", "b to take over", timeout=60)
    seen: list[list[str]] = []

    def promoted() -> bool:
        obj = k8s.get("modelops.dev/v1alpha1", "ModelDeployment", "churn")
        seen.append(_history(obj))
        return bool(obj["status"].get("stable") == "churn-v2")

    play_deployment_controller(k8s, "churn-churn-v2", 2)
    wait_for(promoted, "b promotes churn-v2", timeout=60)
    done = k8s.get("modelops.dev/v1alpha1", "ModelDeployment", "churn")
    # No status regression: the history only grew, the rollout's clock never restarted.
    assert all(h[: len(_history(before))] == _history(before) for h in seen)
    assert _history(done) == ["churn-v1", "churn-v2"]
    # No duplicate children: one Deployment per version at most, deterministic names.
    names = sorted(d["metadata"]["name"] for d in k8s.list("apps/v1", "Deployment", "default"))
    assert names in (["churn-churn-v1", "churn-churn-v2"], ["churn-churn-v2"])
    creates = [f"{r.path}" for r in list(k8s.requests) if r.method == "POST" and r.path.endswith("/deployments")
               and r.status == 201]
    assert len(creates) == 1  # churn-v2's, by a; b found it and did not create it again


def test_a_leader_paused_past_its_lease_steps_down_without_writing(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact], replicas: dict[str, Replica], tmp_path: Path
) -> None:
    seed_mid_rollout(k8s, artifacts)
    replicas["a"] = Replica(k8s, "a", tmp_path / "a.log")
    wait_for(lambda: holder(k8s) == "a", "a to lead", timeout=60)
    wait_for(lambda: k8s.find("apps/v1", "Deployment", "churn-churn-v2"), "the candidate's Deployment", 60)
    replicas["b"] = Replica(k8s, "b", tmp_path / "b.log")
    time.sleep(2.0)  # b starts and sees a's Lease renewed

    replicas["a"].process.send_signal(signal.SIGSTOP)
    wait_for(lambda: holder(k8s) == "b", "b to take over from the paused a", timeout=60)
    # Work for the new leader while a is paused: a resumes with events queued for it.
    play_deployment_controller(k8s, "churn-churn-v2", 2)
    wait_deployment(k8s, "b promotes churn-v2", lambda o: o["status"].get("stable") == "churn-v2", timeout=60)

    resumed = time.monotonic()
    replicas["a"].process.send_signal(signal.SIGCONT)
    assert replicas["a"].process.wait(30) == 1  # it stepped down: "leader election lost"
    assert replicas["a"].writes_since(k8s, resumed) == []
    # kopf's own requests (watches) carry kopf's agent: neither replica's kopf writes at all.
    assert [r for r in list(k8s.requests) if r.user_agent.startswith("kopf") and r.method in WRITES] == []
    assert holder(k8s) == "b"
    assert "Leader election lost" in (tmp_path / "a.log").read_text()

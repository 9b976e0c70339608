"""`modelops sandbox up` stops cleanly however it is told to, and never leaves a process behind.

Each test runs the real `modelops sandbox up` (API emulator, operator, kubelet) with a
ModelDeployment serving, then stops it: Ctrl-C in its terminal (SIGINT to its process group),
SIGINT or SIGTERM to the process alone, `modelops sandbox down`, or SIGKILL; and checks that
every process it started is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelops.emulator.testing import KUBECTL
from tests.operator.harness import make_artifact, model_deployment, model_version, wait_for

pytestmark = pytest.mark.e2e

MODELOPS = shutil.which("modelops", path=str(Path(sys.executable).parent)) or "modelops"


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc), zombies excluded."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


class Running:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        # Its own session, as a shell gives a foreground job: the test can signal it alone or its group.
        self.process = subprocess.Popen([MODELOPS, "sandbox", "up", "--dir", str(workdir)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "sandbox up: export KUBECONFIG=" in line, line + self.process.stdout.read()

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(KUBECTL), "--kubeconfig", str(self.workdir / "kubeconfig"), *args], input=stdin,
                              capture_output=True, text=True, check=True, timeout=60)
        return done.stdout

    def serve(self, artifact: tuple[str, str]) -> set[int]:
        """A ModelDeployment with one ready replica; returns every process of the sandbox."""
        docs = [model_version("churn-v1", *artifact), {**model_deployment("churn-v1"), "spec": {
            "model": "churn", "version": "churn-v1", "replicas": 1}}]
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

        def ready() -> bool:
            pods = json.loads(self.kubectl("get", "pods", "-o", "json"))["items"]
            return any(c["type"] == "Ready" and c["status"] == "True"
                       for p in pods for c in p.get("status", {}).get("conditions", []))

        wait_for(ready, "a serving pod", timeout=120)
        processes = _children(self.process.pid)
        assert len(processes) >= 3, processes  # emulator, operator, a serving replica
        return processes

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_artifact(tmp_path_factory.mktemp("artifact") / "v1")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Running]:
    running = Running(tmp_path / "sandbox")
    try:
        yield running
    finally:
        leftovers = _children(running.process.pid) if running.process.poll() is None else set()
        running.kill()
        for pid in _alive(leftovers):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["ctrl-c in its terminal", "SIGINT to it alone", "SIGTERM to it alone"])
def test_a_signal_stops_everything_while_a_deployment_serves(sandbox: Running, artifact: tuple[str, str],
                                                             how: str) -> None:
    processes = sandbox.serve(artifact)
    if how == "ctrl-c in its terminal":
        os.killpg(sandbox.process.pid, signal.SIGINT)
    else:
        os.kill(sandbox.process.pid, signal.SIGINT if "SIGINT" in how else signal.SIGTERM)
    code, output = sandbox.finish()
    assert code == 0, output
    assert "sandbox stopped" in output
    assert _alive(processes) == set()


def test_one_sandbox_per_directory_and_down_stops_it_from_elsewhere(sandbox: Running) -> None:
    second = subprocess.run([MODELOPS, "sandbox", "up", "--dir", str(sandbox.workdir)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert second.returncode == 1
    assert f"a sandbox is already running in {sandbox.workdir} (pid {sandbox.process.pid})" in second.stderr
    assert "kubectl" not in second.stdout
    sandbox.kubectl("get", "ns")  # the first one is untouched: same kubeconfig, still answering
    processes = _children(sandbox.process.pid)
    down = subprocess.run([MODELOPS, "sandbox", "down", "--dir", str(sandbox.workdir)], capture_output=True,
                          text=True, timeout=90, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped" in down.stdout
    assert sandbox.finish()[0] == 0
    assert _alive(processes) == set()
    again = subprocess.run([MODELOPS, "sandbox", "down", "--dir", str(sandbox.workdir)], capture_output=True,
                           text=True, timeout=30, check=False)
    assert (again.returncode, again.stdout.strip()) == (0, f"no sandbox is running in {sandbox.workdir}")


def test_children_do_not_outlive_a_killed_sandbox(sandbox: Running, artifact: tuple[str, str]) -> None:
    processes = sandbox.serve(artifact)
    os.kill(sandbox.process.pid, signal.SIGKILL)
    sandbox.finish()
    deadline = time.monotonic() + 30
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(processes) == set()

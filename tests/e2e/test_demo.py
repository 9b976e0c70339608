"""`make demo` works: the whole loop in the sandbox, through the real operator and kubectl.

The demo (fast setting, ``--keep``) trains v1, serves it, shifts its traffic, and must end with
v2 stable; while it keeps the sandbox running the test reads the final state as a kubectl user
would, then stops it with SIGINT and checks that nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from modelops.sandbox.cluster import kubectl_path
from tests.e2e.checks import condition, processes_under

pytestmark = pytest.mark.e2e

KEPT = "--keep: the sandbox keeps running"


def _kubectl(kubeconfig: Path, *args: str) -> Any:
    done = subprocess.run([kubectl_path(), "--kubeconfig", str(kubeconfig), *args, "-o", "json"],
                          capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout)


@pytest.mark.timeout(720)  # the whole loop, on two cores shared with other jobs
def test_the_demo_closes_the_loop_and_leaves_nothing_behind(tmp_path: Path) -> None:
    modelops = shutil.which("modelops", path=str(Path(sys.executable).parent))
    assert modelops is not None
    workdir = tmp_path / "sandbox"
    # Run outside the repository, as an installed user would; output is not a TTY: plain lines.
    demo = subprocess.Popen(
        [modelops, "sandbox", "demo", "--dir", str(workdir), "--fast", "--keep", "--timeout", "420"],
        cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    kept = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if KEPT in line:
                kept.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 540
        while not kept.is_set() and demo.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        output = "".join(lines)
        assert kept.is_set(), f"the demo did not finish (exit {demo.poll()}):\n{output[-6000:]}"
        kubeconfig = workdir / "kubeconfig"
        _assert_final_state(kubeconfig, output)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            code = demo.wait()
        reader.join(timeout=10)
        if demo.stdout is not None:
            demo.stdout.close()
    assert processes_under(workdir) == []
    output = "".join(lines)
    assert code == 0, output[-4000:]
    assert "demo finished in" in output


def _assert_final_state(kubeconfig: Path, output: str) -> None:
    """Asserts the final state the demo promises."""
    # The story was told: every step announced, plain lines (no TTY), the summary and the history.
    for said in ("DriftDetected:", "Job churn-drift-retrain-1 created", "Succeeded (Improved)",
                 "ModelVersion churn-drift-retrain-1 created; lineage:", "canary churn-drift-retrain-1: step",
                 "churn-drift-retrain-1 promoted", "$ modelops history churn", "7. Summary"):
        assert said in output, said
    assert "\x1b[" not in output  # readable without colour

    mdep = _kubectl(kubeconfig, "get", "mdep", "churn")
    v2 = "churn-drift-retrain-1"
    assert mdep["status"]["stable"] == v2
    assert mdep["status"]["phase"] == "Stable"
    assert condition(mdep, "Ready")["status"] == "True"
    promoted = [h for h in mdep["status"]["history"] if h["version"] == v2]
    assert [h["result"] for h in promoted] == ["Promoted"]

    version = _kubectl(kubeconfig, "get", "mv", v2)
    lineage = version["spec"]["lineage"]
    assert lineage["parent"] == "churn-v1"
    assert lineage["job"] == v2
    assert lineage["driftPolicy"] == "churn-drift"
    # v2 inherits v1's validation (metric and fairness limits) and passed it before its canary.
    assert version["spec"]["validation"]["fairness"]
    assert condition(version, "Validated")["status"] == "True"
    assert condition(version, "Validated")["reason"] == "ValidationPassed"
    results = version["status"]["validation"]["results"]
    assert {r["verdict"] for r in results} == {"Pass"}
    assert any(r["metric"] == "demographic_parity_difference" for r in results)

    policy = _kubectl(kubeconfig, "get", "dp", "churn-drift")
    retrain = policy["status"]["lastRetrain"]
    assert policy["status"]["retrains"] == 1
    assert retrain["job"] == v2
    assert retrain["result"] == "Succeeded"
    assert retrain["modelVersion"] == v2
    assert retrain["gate"]["challenger"] > retrain["gate"]["champion"]

    history = json.loads(subprocess.run(
        [sys.executable, "-m", "modelops.cli", "history", "churn", "--kubeconfig", str(kubeconfig), "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    text = json.dumps(history)
    assert v2 in text
    assert "churn-v1" in text
    assert "Promoted" in text
    assert "step" in text.lower()  # the canary steps' decisions, with their analysis

    # No orphans: every Job and Pod is owned by an object that exists; v1's serving objects are
    # gone after scaleDownDelay (only v2's Deployment remains), and no Warning was raised while
    # the first version was being verified.
    _assert_owned(kubeconfig)
    deadline = time.monotonic() + 60
    while True:
        deployments = [d["metadata"]["name"] for d in _kubectl(kubeconfig, "get", "deploy")["items"]]
        if deployments == [f"churn-{v2}"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert deployments == [f"churn-{v2}"]
    warnings = [e for e in _kubectl(kubeconfig, "get", "events")["items"]
                if e.get("type") == "Warning" and e.get("reason") == "VersionNotReady"]
    assert warnings == []


def _assert_owned(kubeconfig: Path) -> None:
    existing = set()
    for kind in ("mv", "mdep", "dp", "jobs", "deploy", "rs"):
        for obj in _kubectl(kubeconfig, "get", kind)["items"]:
            existing.add(obj["metadata"]["uid"])
    for kind in ("jobs", "pods", "rs"):
        for obj in _kubectl(kubeconfig, "get", kind)["items"]:
            owners = obj["metadata"].get("ownerReferences") or []
            assert owners, f"{kind} {obj['metadata']['name']} has no owner"
            assert all(o["uid"] in existing for o in owners), f"{kind} {obj['metadata']['name']}: owner gone"

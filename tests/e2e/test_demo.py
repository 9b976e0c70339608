"""`make demo` works: the sandbox serves the example model, verified, through the real operator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_the_demo_serves_the_example_model_and_exits_zero(tmp_path: Path) -> None:
    modelops = shutil.which("modelops", path=str(Path(sys.executable).parent))
    assert modelops is not None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Run outside the repository, as an installed user would.
    done = subprocess.run(
        [modelops, "sandbox", "demo", "--dir", str(tmp_path / "sandbox"), "--timeout", "150"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "demo finished" in output
    assert '"model_name": "churn"' in output
    assert '"model_version": "churn-v1"' in output
    # The printer columns, as kubectl shows them.
    assert "STABLE" in output
    assert "CANDIDATE" in output
    # Its pods and Services, as on a cluster: addresses, node, ClusterIP.
    assert "modelops-sandbox" in output
    assert "CLUSTER-IP" in output

"""`modelops emulator`: serves until SIGTERM/SIGINT and writes a kubeconfig for kubectl."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from modelops.emulator import kubeconfig as kubeconfigs
from tests.emulator.conftest import WIDGETS_CRD

pytestmark = pytest.mark.integration


def wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if path.exists():
            return
        if process.poll() is not None:
            raise AssertionError(f"the emulator exited early: {process.communicate()}")
        threading.Event().wait(0.05)
    raise AssertionError(f"no kubeconfig at {path}")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled_and_writes_a_kubeconfig(tmp_path: Path, stop: signal.Signals) -> None:
    kubeconfig = tmp_path / "sandbox" / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops.cli", "emulator", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--crds", str(WIDGETS_CRD)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_file(kubeconfig, process)
        config = yaml.safe_load(kubeconfig.read_text())
        url = config["clusters"][0]["cluster"]["server"]
        assert url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cadata=kubeconfigs.ca_of(kubeconfig).decode())
        assert httpx.get(f"{url}/readyz", verify=trust).text == "ok"
        token = kubeconfigs.token_of(kubeconfig)
        assert httpx.get(f"{url}/apis/test.modelops.dev/v1", verify=trust).status_code == 401
        assert httpx.get(f"{url}/apis/test.modelops.dev/v1", verify=trust,
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
        process.send_signal(stop)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Kubernetes API emulator serving on https://127.0.0.1:" in output
    assert "stopped" in output

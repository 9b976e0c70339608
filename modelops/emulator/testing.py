"""Run the emulator in a background thread for tests, and reach into it directly.

Example::

    from modelops.emulator.testing import running_emulator

    def test_something(tmp_path):
        with running_emulator(tmp_path / "kubeconfig") as k8s:
            k8s.apply_crds("crds/")                      # or dicts
            k8s.create({"apiVersion": "modelops.dev/v1alpha1", "kind": "ModelVersion",
                        "metadata": {"name": "churn-v1", "namespace": "default"}, "spec": {...}})
            k8s.fail_next("PATCH", r"/status$", status=409)   # fault injection
            k8s.patch_status("apps/v1", "Deployment", "churn-churn-v1",
                             {"readyReplicas": 2}, namespace="default")  # play the controller
            out = k8s.kubectl("get", "mv")                # .venv's kubectl with our kubeconfig
            # k8s.url, k8s.kubeconfig, k8s.cluster (the store), k8s.requests (recent requests)
            # raw HTTP: https with the emulator's own certificate, and its bearer token
            httpx.get(f"{k8s.url}/api/v1/pods", headers=k8s.auth_headers, verify=k8s.ssl_context)

Objects are addressed by apiVersion and kind (or plural, or short name). Direct writes
go through the same rules as HTTP ones (validation, status subresource, generation),
except `seed()`, which keeps the status you give it (for restart tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelops.emulator import kubeconfig as kubeconfigs
from modelops.emulator import patches, selectors
from modelops.emulator.cluster import Cluster
from modelops.emulator.errors import ApiError
from modelops.emulator.faults import Fault
from modelops.emulator.resources import ResourceType
from modelops.emulator.server import Emulator, RequestRecord

KUBECTL = Path(sys.executable).parent / "kubectl"


def _is_kustomization(doc: dict[str, Any]) -> bool:
    return str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")


def load_manifests(sources: Iterable[str | Path | dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects from YAML files, directories of them (sorted), and dicts, in order.

    Kustomization files are skipped, so a kustomize base directory can be given as is.
    """
    objects: list[dict[str, Any]] = []
    for source in sources:
        if isinstance(source, dict):
            objects.append(source)
            continue
        path = Path(source)
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() else [path]
        for file in files:
            objects.extend(doc for doc in yaml.safe_load_all(file.read_text())
                           if isinstance(doc, dict) and not _is_kustomization(doc))
    return objects


@dataclass
class EmulatorHandle:
    emulator: Emulator
    url: str
    kubeconfig: Path
    # The loop serving the emulator (its own thread): for a benchmark to run code there, e.g. a profiler.
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def cluster(self) -> Cluster:
        return self.emulator.cluster

    @property
    def token(self) -> str:
        """The bearer token this emulator requires (also in `kubeconfig`)."""
        return self.emulator.token

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Trusts this emulator's certificate (and nothing else): `httpx.Client(verify=...)`."""
        assert self.emulator.certificate is not None
        return self.emulator.certificate.client_context()

    @property
    def auth_headers(self) -> dict[str, str]:
        """Headers for raw HTTP clients: every path but /healthz, /livez, /readyz, /version needs them."""
        return {"Authorization": f"Bearer {self.emulator.token}"}

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self.emulator.requests)

    # ---- faults -------------------------------------------------------------------------

    def fail_next(self, method: str, path: str, *, status: int = 500, times: int = 1,
                  retry_after: int | None = None, message: str = "") -> Fault:
        """Answer the next `times` requests of `method` matching the path regex with `status`."""
        return self.emulator.faults.add(method, path, status=status, times=times, retry_after=retry_after,
                                        message=message)

    def drop_watches(self, *, abort: bool = False) -> int:
        """End all open watch streams (`abort` cuts the connection instead); returns how many."""
        return self.cluster.store.drop_watches(abort=abort)

    def compact(self) -> None:
        """Forget the event history: watches resuming from an older resourceVersion get 410."""
        self.cluster.store.compact()

    # ---- objects ------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceType:
        return self.cluster.resource(api_version, kind)

    def create(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        rt = self.resource(obj["apiVersion"], obj["kind"])
        return self.cluster.create(rt, namespace or obj.get("metadata", {}).get("namespace"), obj)

    def seed(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create an object with the status it carries (as if the operator had written it)."""
        rt = self.resource(obj["apiVersion"], obj["kind"])
        return self.cluster.create(rt, namespace or obj.get("metadata", {}).get("namespace"), obj, keep_status=True)

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply: create the object, or merge it into the existing one."""
        rt = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        result, _ = self.cluster.patch(rt, namespace or meta.get("namespace") or ("default" if rt.namespaced else None),
                                       meta["name"], patches.APPLY_PATCH, obj)
        return result

    def apply_crds(self, *sources: str | Path | dict[str, Any]) -> list[dict[str, Any]]:
        """Create or update CRDs (and any other objects) from files, directories or dicts."""
        return [self.apply(obj) for obj in load_manifests(sources)]

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any]:
        return self.cluster.get(self.resource(api_version, kind), namespace, name)

    def find(self, api_version: str, kind: str, name: str, namespace: str | None = "default"
             ) -> dict[str, Any] | None:
        """Like get(), but None when the object does not exist."""
        rt = self.resource(api_version, kind)  # an unknown kind is a mistake, not an absent object
        try:
            return self.cluster.get(rt, namespace, name)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        items, _ = self.cluster.list(self.resource(api_version, kind), namespace,
                                     selectors.label_selector(label_selector))
        return items

    def patch(self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = "default", *,
              subresource: str | None = None, content_type: str = patches.MERGE_PATCH) -> dict[str, Any]:
        result, _ = self.cluster.patch(self.resource(api_version, kind), namespace, name, content_type, patch,
                                       subresource=subresource)
        return result

    def patch_status(self, api_version: str, kind: str, name: str, status: dict[str, Any],
                     namespace: str | None = "default") -> dict[str, Any]:
        """Merge `status` into the object's status through the status subresource."""
        rt = self.resource(api_version, kind)
        sub = "status" if rt.has_status_subresource else None
        return self.patch(api_version, kind, name, {"status": status}, namespace, subresource=sub)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = "default", *,
               propagation: str | None = None) -> dict[str, Any]:
        return self.cluster.delete(self.resource(api_version, kind), namespace, name, propagation=propagation)

    def create_namespace(self, name: str) -> dict[str, Any]:
        return self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # ---- kubectl ------------------------------------------------------------------------

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the virtualenv's kubectl against the emulator; raises with its output if it fails."""
        # A fresh discovery cache per call: kubectl trusts its cache for hours, so short names of
        # CRDs created after the cache was written would not resolve (as on a real cluster), and
        # a new emulator may reuse the port of an old one.
        with tempfile.TemporaryDirectory(prefix="kubectl-cache-") as cache:
            command = [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "--cache-dir", cache, *args]
            result = subprocess.run(command, capture_output=True, text=True, input=input, timeout=timeout,
                                    check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result


class _Thread:
    """An event loop in a daemon thread serving the emulator."""

    def __init__(self, emulator: Emulator, host: str, port: int) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="k8s-emulator", daemon=True)
        self.host, self.port = host, port

    def start(self) -> str:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self.emulator.start(self.host, self.port), self.loop)
        return future.result(timeout=30)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()


@contextlib.contextmanager
def running_emulator(kubeconfig_path: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0,
                     bookmark_interval: float = 20.0, history_size: int = 20_000,
                     crds: Iterable[str | Path | dict[str, Any]] = (),
                     pod_logs: Path | None = None) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free port, write a kubeconfig, yield a handle, stop on exit.

    `pod_logs`: the folder a sandbox kubelet writes container output to, served as pods/log.
    """
    emulator = Emulator(cluster=Cluster(history_size=history_size), bookmark_interval=bookmark_interval,
                        pod_logs=pod_logs)
    runner = _Thread(emulator, host, port)
    url = runner.start()
    try:
        if kubeconfig_path is None:
            directory = Path(tempfile.mkdtemp(prefix="modelops-emulator-"))
            kubeconfig_path = directory / "kubeconfig"
        assert emulator.certificate is not None
        path = kubeconfigs.write(kubeconfig_path, url, emulator.token, emulator.certificate.cert_pem)
        handle = EmulatorHandle(emulator, url, path, runner.loop)
        if crds:
            handle.apply_crds(*crds)
        yield handle
    finally:
        runner.stop()

"""A local stand-in for the Deployment controller and kubelet, for modelops workloads only.

Each replica of a Deployment labelled ``app.kubernetes.io/managed-by: modelops`` becomes
local processes: the pod's init containers run in order, then its container, with
``emptyDir`` volumes mapped to folders under the sandbox directory. Replica ``N`` listens on
its own loopback address (127.0.1.N) with the container's port unchanged, as pods do on a
cluster. What the kubelet observes (ready replicas) goes back into the Deployment's status,
which is what the operator reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("modelops.sandbox.kubelet")

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=modelops"
# `modelops …` as this interpreter runs it (the console script may not be on PATH).
MODULE_COMMAND = [sys.executable, "-m", "modelops.cli"]
# The only programs this kubelet starts: the project's own entrypoints, whatever a pod
# template says. Anyone who can write a Deployment must not get a shell on this machine.
ENTRYPOINTS = frozenset({"serve", "fetch", "train", "validate"})


class RefusedCommandError(Exception):
    """A container whose command is not `modelops <entrypoint>`; the message says which."""


def entrypoint_refusal(container: dict[str, Any]) -> str | None:
    """Why a container may not run here, or None when it is `modelops <one of ENTRYPOINTS> …`.

    The first word is never executed (this interpreter runs `modelops.cli` in its place), so
    only its name matters; the second must be an allowed subcommand.
    """
    words = [*container.get("command", []), *container.get("args", [])]
    if not all(isinstance(word, str) for word in words):
        return f"container {container.get('name')!r}: command and args must be strings"
    if len(words) >= 2 and Path(words[0]).name == "modelops" and words[1] in ENTRYPOINTS:
        return None
    shown = " ".join(words[:4]) + (" …" if len(words) > 4 else "") if words else "(the image's default)"
    return (f"container {container.get('name')!r} runs {shown!r}: the sandbox kubelet runs only "
            f"`modelops {{{','.join(sorted(ENTRYPOINTS))}}}`")


def _addresses() -> Iterator[str]:
    for third in range(1, 255):
        for fourth in range(1, 255):
            yield f"127.0.{third}.{fourth}"


@dataclass
class Replica:
    """One pod: its address, its folder and its processes."""

    name: str
    address: str
    root: Path
    template_hash: str
    container: dict[str, Any]
    init_containers: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    process: subprocess.Popen[bytes] | None = None
    failed: str | None = None
    _starter: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self._starter = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)
        self._starter.start()

    def _run(self) -> None:
        try:
            self._start_processes()
        except RefusedCommandError as exc:
            self.failed = str(exc)
            log.warning("%s: refused: %s", self.name, self.failed)
        except OSError as exc:  # a pod that cannot start is a failed pod, not a dead kubelet thread
            self.failed = f"cannot start: {exc}"
            log.warning("%s: %s", self.name, self.failed)

    def _start_processes(self) -> None:
        # Every container is checked before any runs: a pod is refused as a whole.
        for container in (*self.init_containers, self.container):
            refusal = entrypoint_refusal(container)
            if refusal is not None:
                raise RefusedCommandError(refusal)
        self.root.mkdir(parents=True, exist_ok=True)
        for init in self.init_containers:
            argv = self._argv(init)
            log.info("%s: init container %s: %s", self.name, init.get("name"), " ".join(argv))
            with (self.root / f"{init.get('name', 'init')}.log").open("wb") as out:
                done = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=self._env(init), check=False
                )
            if done.returncode != 0:
                self.failed = f"init container {init.get('name')} exited {done.returncode}"
                log.warning("%s: %s (see %s)", self.name, self.failed, self.root)
                return
        argv = [*self._argv(self.container), "--host", self.address]
        log.info("%s: container %s on %s", self.name, self.container.get("name"), self.address)
        log_path = self.root / f"{self.container.get('name', 'main')}.log"
        with log_path.open("wb") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=self._env(self.container)
            )

    def _mounts(self, container: dict[str, Any]) -> dict[str, Path]:
        local = {v["name"]: self.root / "volumes" / v["name"] for v in self.volumes if "emptyDir" in v}
        mounts = {}
        for m in container.get("volumeMounts", []):
            if m["name"] in local:
                local[m["name"]].mkdir(parents=True, exist_ok=True)
                mounts[m["mountPath"]] = local[m["name"]]
        return mounts

    def _argv(self, container: dict[str, Any]) -> list[str]:
        mounts = self._mounts(container)
        # Only the container's own words name container paths: the local interpreter put in
        # place of `modelops` may itself live under a mount path such as /tmp.
        words = [_rewrite(word, mounts) for word in (*container.get("command", []), *container.get("args", []))]
        if words and Path(words[0]).name == "modelops":
            words = [*MODULE_COMMAND, *words[1:]]
        return words

    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        env = dict(os.environ)
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = str(var["value"])
        mounts = self._mounts(container)
        if "/tmp" in mounts:
            env["TMPDIR"] = str(mounts["/tmp"])
        return env

    def port(self) -> int:
        ports = self.container.get("ports") or [{"containerPort": 8080}]
        return int(ports[0]["containerPort"])

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        probe = (self.container.get("readinessProbe") or {}).get("httpGet") or {"path": "/v2/health/ready"}
        url = f"http://{self.address}:{self.port()}{probe.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as answer:
                return bool(200 <= answer.status < 400)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # The model copies go; the logs stay for whoever needs to know why a pod failed.
        shutil.rmtree(self.root / "volumes", ignore_errors=True)


def _rewrite(word: str, mounts: dict[str, Path]) -> str:
    """A container path in an argument, mapped to the local folder of its volume.

    One rewrite per word, longest mount first: a local folder that itself lies under
    another mount path (``/tmp/…``) must not be rewritten again.
    """
    for path in sorted(mounts, key=len, reverse=True):
        if word == path or word.startswith(path.rstrip("/") + "/"):
            return str(mounts[path]) + word[len(path):]
    return word


def template_hash(deployment: dict[str, Any]) -> str:
    template = deployment.get("spec", {}).get("template", {})
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class LocalKubelet:
    """Keeps local processes in line with modelops Deployments and reports their readiness."""

    def __init__(self, api_client: Any, namespace: str, workdir: Path) -> None:
        from kubernetes import client

        self.apps = client.AppsV1Api(api_client)
        self.namespace = namespace
        self.workdir = workdir
        self.replicas: dict[str, list[Replica]] = {}
        self._free = _addresses()
        self._released: list[str] = []
        self._reported: dict[str, tuple[int, int, int]] = {}

    def _address(self) -> str:
        return self._released.pop() if self._released else next(self._free)

    def sync_once(self) -> None:
        listed = self.apps.list_namespaced_deployment(self.namespace, label_selector=MANAGED_SELECTOR)
        seen = set()
        for raw in self.apps.api_client.sanitize_for_serialization(listed)["items"]:
            name = raw["metadata"]["name"]
            seen.add(name)
            self._converge(name, raw)
        for name in list(self.replicas):
            if name not in seen:
                log.info("deployment %s is gone: stopping its replicas", name)
                self._stop(self.replicas.pop(name))
                self._reported.pop(name, None)

    def _converge(self, name: str, dep: dict[str, Any]) -> None:
        spec = dep.get("spec", {})
        want = int(spec.get("replicas", 1))
        digest = template_hash(dep)
        current = [r for r in self.replicas.get(name, []) if r.template_hash == digest]
        stale = [r for r in self.replicas.get(name, []) if r.template_hash != digest]
        self._stop(stale)
        pod = spec.get("template", {}).get("spec", {})
        while len(current) < want:
            index = len(current)
            replica = Replica(
                name=f"{name}-{digest}-{index}",
                address=self._address(),
                root=self.workdir / "pods" / self.namespace / f"{name}-{digest}-{index}",
                template_hash=digest,
                container=pod.get("containers", [{}])[0],
                init_containers=list(pod.get("initContainers", [])),
                volumes=list(pod.get("volumes", [])),
            )
            replica.start()
            current.append(replica)
        self._stop(current[want:])
        self.replicas[name] = current[:want]
        ready = sum(1 for r in self.replicas[name] if r.ready())
        self._report(name, dep, want, ready)

    def _stop(self, replicas: list[Replica]) -> None:
        for replica in replicas:
            replica.stop()
            self._released.append(replica.address)

    def _report(self, name: str, dep: dict[str, Any], want: int, ready: int) -> None:
        generation = int(dep["metadata"].get("generation", 1))
        observed = (generation, want, ready)
        if self._reported.get(name) == observed:
            return
        status = {
            "observedGeneration": generation,
            "replicas": want,
            "updatedReplicas": want,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(want - ready, 0),
        }
        self.apps.patch_namespaced_deployment_status(name, self.namespace, {"status": status})
        self._reported[name] = observed
        log.info("deployment %s: %d/%d replicas ready", name, ready, want)

    def endpoints(self, name: str) -> list[str]:
        """Base URLs of the ready replicas of a Deployment."""
        return [f"http://{r.address}:{r.port()}" for r in self.replicas.get(name, []) if r.ready()]

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.sync_once()
            except Exception as exc:  # the API may be restarting; the next pass retries
                log.warning("kubelet sync failed: %s", exc)
            stop.wait(interval)
        self.shutdown()

    def shutdown(self) -> None:
        for name in list(self.replicas):
            self._stop(self.replicas.pop(name))

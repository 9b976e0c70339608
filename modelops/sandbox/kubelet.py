"""A local stand-in for the Deployment controller and kubelet, for modelops workloads only.

Each replica of a Deployment labelled ``app.kubernetes.io/managed-by: modelops`` becomes
local processes: the pod's init containers run in order, then its container, with
``emptyDir`` volumes mapped to folders under the sandbox directory. Replica ``N`` listens on
its own loopback address (127.0.1.N) with the container's port unchanged, as pods do on a
cluster. What the kubelet observes (ready replicas) goes back into the Deployment's status,
which is what the operator reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.sandbox import events, pods
from modelops.sandbox.api import Api, ApiError
from modelops.sandbox.proxy import ServiceProxy, endpoints

log = logging.getLogger("modelops.sandbox.kubelet")

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=modelops"
# `modelops …` as this interpreter runs it (the console script may not be on PATH).
MODULE_COMMAND = [sys.executable, "-m", "modelops.cli"]
# The only programs this kubelet starts: the project's own entrypoints, whatever a pod
# template says. Anyone who can write a Deployment must not get a shell on this machine.
ENTRYPOINTS = frozenset({"serve", "fetch", "train", "validate"})
# Entrypoints that report their result through --termination-log (default /dev/termination-log).
WRITES_TERMINATION_LOG = frozenset({"train", "validate"})


# Cluster DNS, as far as a pod's words need it. On a cluster ``<svc>.<ns>.svc[.cluster.local]``
# resolves to the Service's ClusterIP; the sandbox's processes use the host's resolver, which
# knows no such name. The kubelet puts the ClusterIP in place of the name in the container's
# args and env values when it starts the container (``resolve_cluster_names``). Chosen over a
# hosts mapping handed to the serving process (an env var its HTTP clients would read): that
# would be product code (serving's aiohttp clients, the feedback forwarder, fetch's fsspec)
# that exists only for the sandbox, in every client that may ever name a Service; a rewrite
# here covers all of them and keeps the product free of it. Both resolve once, at container
# start, where cluster DNS resolves at each lookup: a ClusterIP never changes in a Service's
# life, so the two differ only for a Service created after the container started or deleted
# and made again (its name is then left as written, and fails to resolve as before the
# Service existed on a cluster; the next restart of the container resolves it). The Pod
# object keeps the words as written: only the local process sees the address.
CLUSTER_NAME = re.compile(r"(?<![\w.-])([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)"
                          r"\.svc(\.cluster\.local)?\.?(?![\w.-])")


def cluster_hosts(services: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(Service name, namespace) -> its ClusterIP, for the Services that have one."""
    hosts: dict[tuple[str, str], str] = {}
    for service in services:
        ip = (service.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            meta = service.get("metadata") or {}
            hosts[(str(meta.get("name")), str(meta.get("namespace")))] = str(ip)
    return hosts


def resolve_cluster_names(word: str, hosts: Mapping[tuple[str, str], str]) -> str:
    """``word`` with each ``<svc>.<ns>.svc[.cluster.local]`` host of a known Service replaced
    by its ClusterIP (``http://churn-v2.default.svc:8080`` -> ``http://127.0.2.7:8080``)."""

    def address(match: re.Match[str]) -> str:
        return hosts.get((match.group(1), match.group(3)), match.group(0))

    return CLUSTER_NAME.sub(address, word)


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
    """Pod addresses: 127.0.1.1 upwards, never in 127.0.2.0/24 (the Services' ClusterIPs)."""
    for third in (1, *range(3, 255)):
        for fourth in range(1, 255):
            yield f"127.0.{third}.{fourth}"


def _port_free(address: str, port: int) -> bool:
    """Whether nothing listens on address:port: another sandbox on this machine may use it."""
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


@dataclass
class Replica:
    """One pod: its address, its folder and its processes, and what happened to them."""

    name: str
    address: str
    root: Path
    template_hash: str
    container: dict[str, Any]
    init_containers: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    process: subprocess.Popen[bytes] | None = None
    failed: str | None = None
    refused: str | None = None
    initialized: bool = False  # the init containers all succeeded: the container may start
    stopping: bool = False
    serves: bool = True  # a Deployment's server (listens on its address), not a Job's run
    restart_count: int = 0
    restart_at: float | None = None  # in CrashLoopBackOff until then
    backoff_s: float = 10.0  # the first restart's delay (a kubelet's is 10 s)
    ref: dict[str, Any] | None = None  # the Pod's object reference, for its Events
    _failing_since: float | None = field(default=None, repr=False)  # livenessProbe failing since
    owner: dict[str, Any] | None = None  # its ReplicaSet's or Job's
    last_run: tuple[float, float | None, int | None, str] | None = field(default=None, repr=False)
    _init_process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    created_at: float = field(default_factory=time.time)
    # container name -> (started, finished, exit code, message) as the kubelet saw it
    _init_runs: dict[str, tuple[float, float | None, int | None, str]] = field(default_factory=dict, repr=False)
    _main_run: tuple[float, float | None, int | None, str] | None = field(default=None, repr=False)
    _starter: threading.Thread | None = field(default=None, repr=False)
    # the Services' ClusterIPs by (name, namespace) when a container starts: see CLUSTER_NAME
    cluster_hosts: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def start(self) -> None:
        self._starter = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)
        self._starter.start()

    def _run(self) -> None:
        try:
            self._start_processes()
        except RefusedCommandError as exc:
            self.refused = self.failed = str(exc)
            log.warning("%s: refused: %s", self.name, self.failed)
        except OSError as exc:  # a pod that cannot start is a failed pod, not a dead kubelet thread
            self.failed = f"cannot start: {exc}"
            log.warning("%s: %s", self.name, self.failed)
            self._main_run = (time.time(), time.time(), 128, self.failed)

    def log_path(self, container: dict[str, Any]) -> Path:
        return self.root / f"{container.get('name', 'main')}.log"

    def _start_processes(self) -> None:
        # Every container is checked before any runs: a pod is refused as a whole.
        for container in (*self.init_containers, self.container):
            refusal = entrypoint_refusal(container)
            if refusal is not None:
                raise RefusedCommandError(refusal)
        self.root.mkdir(parents=True, exist_ok=True)
        for init in self.init_containers:
            argv = self._argv(init)
            name = str(init.get("name", "init"))
            log.info("%s: init container %s: %s", self.name, name, " ".join(argv))
            started = time.time()
            self._init_runs[name] = (started, None, None, "")
            if self.stopping:
                return
            with self.log_path(init).open("wb") as out:
                # This thread waits for it, so PR_SET_PDEATHSIG (per forking thread) holds.
                self._init_process = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=self._env(init),
                    preexec_fn=die_with_parent)  # noqa: PLW1509 - a single syscall, see die_with_parent
            code = self._init_process.wait()
            message = self.termination_message(init, code)
            self._init_runs[name] = (started, time.time(), code, message)
            if code != 0:
                self.failed = f"init container {name} exited {code}"
                log.warning("%s: %s (see %s)", self.name, self.failed, self.root)
                return
        self.initialized = True

    def start_main(self) -> None:
        """Start the container once the init containers succeeded; called from the kubelet's thread.

        Not from the pod's own short-lived thread: PR_SET_PDEATHSIG fires when the *thread* that
        forked the child ends, and the kubelet's thread lives as long as the pod should.
        """
        if not self.initialized or self.process is not None or self.failed is not None or self.stopping:
            return
        if self.restart_at is not None:
            if time.time() < self.restart_at:
                return  # CrashLoopBackOff: not yet
            self.restart_at = None
            log_path = self.log_path(self.container)
            with contextlib.suppress(OSError):  # `kubectl logs --previous` reads the last instance's
                log_path.replace(log_path.with_suffix(".previous.log"))
        argv = self._argv(self.container)
        if self.serves:  # a server listens on the pod's own address, as in a pod's network namespace
            argv += ["--host", self.address]
        log.info("%s: container %s on %s", self.name, self.container.get("name"), self.address)
        try:
            with self.log_path(self.container).open("wb") as out:  # the child keeps its own copy of the descriptor
                self.process = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=self._env(self.container),
                    preexec_fn=die_with_parent)  # noqa: PLW1509 - a single syscall, see die_with_parent
        except OSError as exc:
            self.failed = f"cannot start: {exc}"
            self._main_run = (time.time(), time.time(), 128, self.failed)
            return
        self._main_run = (time.time(), None, None, "")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def finished_at(self) -> float | None:
        """When the container ended (or the pod failed before it started)."""
        if self._main_run is not None and self._main_run[1] is not None:
            return self._main_run[1]
        ended = [run[1] for run in self._init_runs.values() if run[1] is not None and run[2]]
        return max(ended) if ended else None

    def view(self, ready: bool) -> pods.PodView:
        """What this replica looks like now, for its Pod's status."""
        main_run = self._main_run
        if main_run is not None and main_run[2] is None and self.process is not None:
            code = self.process.poll()
            if code is not None and code < 0:
                code = 128 - code  # killed by signal N: exit code 128+N, as a container runtime reports it
            if code is not None:  # it ended on its own: say how, as a kubelet would
                main_run = (main_run[0], time.time(), code, self.termination_message(self.container, code))
                self._main_run = main_run
                if self.serves and not self.stopping:
                    # restartPolicy Always: the same pod starts it again after a growing back-off
                    # (10 s, doubling, at most 5 min), as a kubelet's CrashLoopBackOff.
                    self.last_run, self._main_run, self.process = main_run, None, None
                    self.restart_count += 1
                    self.restart_at = time.time() + min(300.0, self.backoff_s * 2 ** (self.restart_count - 1))
                    main_run = None
        image = str(self.container.get("image", ""))
        inits = tuple(
            pods.ContainerView(str(c.get("name", "init")), str(c.get("image", "")),
                               *_run_fields(self._init_runs.get(str(c.get("name", "init")))))
            for c in self.init_containers)
        last = _run_fields(self.last_run)
        last_exit = None if self.last_run is None else (last[1] or 0, last[0], last[2], last[3])
        main = pods.ContainerView(str(self.container.get("name", "main")), image, *_run_fields(main_run),
                                  ready=ready, restarts=self.restart_count, last_exit=last_exit,
                                  waiting_reason="CrashLoopBackOff" if self.restart_at is not None else None)
        refused = ("UnsupportedCommand", self.refused) if self.refused else None
        return pods.PodView(self.name, self.address, self.created_at, inits, (main,), refused)

    def _mounts(self, container: dict[str, Any]) -> dict[str, Path]:
        local = {v["name"]: self.root / "volumes" / v["name"] for v in self.volumes if "emptyDir" in v}
        mounts = {}
        for m in container.get("volumeMounts", []):
            if m["name"] in local:
                local[m["name"]].mkdir(parents=True, exist_ok=True)
                mounts[m["mountPath"]] = local[m["name"]]
        return mounts

    def termination_file(self, container: dict[str, Any]) -> Path:
        """Where this pod's container writes what it wrote to its terminationMessagePath."""
        return self.root / "termination" / str(container.get("name", "main"))

    def termination_message(self, container: dict[str, Any], code: int) -> str:
        """As a kubelet reads it: the file (4096 bytes at most); with FallbackToLogsOnError and a
        failure, the end of the log when the file is empty."""
        try:
            message = self.termination_file(container).read_bytes()[:4096].decode(errors="replace")
        except OSError:
            message = ""
        if not message and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = log_tail(self.log_path(container))
        return message

    def _argv(self, container: dict[str, Any]) -> list[str]:
        mounts = self._mounts(container)
        # The terminationMessagePath is a file of the pod's own: the container sees it where it
        # asked for it, in an argument naming it (default /dev/termination-log).
        local = self.termination_file(container)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(b"")
        declared = str(container.get("terminationMessagePath") or "/dev/termination-log")
        # Only the container's own words name container paths: the local interpreter put in
        # place of `modelops` may itself live under a mount path such as /tmp.
        words = [str(local) if word == declared else _rewrite(word, mounts)
                 for word in (*container.get("command", []), *container.get("args", []))]
        if (len(words) >= 2 and words[1] in WRITES_TERMINATION_LOG
                and not any(w == "--termination-log" or w.startswith("--termination-log=") for w in words)):
            words.append(f"--termination-log={local}")  # their default is /dev/termination-log
        words = [resolve_cluster_names(word, self.cluster_hosts) for word in words]
        if words and Path(words[0]).name == "modelops":
            words = [*MODULE_COMMAND, *words[1:]]
        return words

    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        env = dict(os.environ)
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = resolve_cluster_names(str(var["value"]), self.cluster_hosts)
            elif ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "status.podIP":
                env[var["name"]] = self.address  # the downward API: this pod's loopback address
        mounts = self._mounts(container)
        if "/tmp" in mounts:
            env["TMPDIR"] = str(mounts["/tmp"])
        return env

    def port(self) -> int:
        ports = self.container.get("ports") or [{"containerPort": 8080}]
        return int(ports[0]["containerPort"])

    def _probe(self, probe: dict[str, Any]) -> bool:
        """An httpGet probe as a kubelet runs it: 2xx/3xx within timeoutSeconds (default 1)."""
        get = probe.get("httpGet") or {}
        port = get.get("port")
        number = port if isinstance(port, int) else next(
            (int(p["containerPort"]) for p in self.container.get("ports") or [] if p.get("name") == port), self.port())
        url = f"http://{self.address}:{number}{get.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=float(probe.get("timeoutSeconds", 1))) as answer:
                return bool(200 <= answer.status < 400)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        probe = self.container.get("readinessProbe") or {"httpGet": {"path": "/v2/health/ready"}}
        return self._probe(probe)

    def check_liveness(self, now: float) -> str | None:
        """Kill the container once its livenessProbe has failed for periodSeconds x failureThreshold
        (it then restarts, as a kubelet restarts it); the reason, when it did."""
        probe = self.container.get("livenessProbe")
        if not probe or not self.running() or self._main_run is None:
            self._failing_since = None
            return None
        if now - self._main_run[0] < float(probe.get("initialDelaySeconds", 0)):
            return None
        if self._probe(probe):
            self._failing_since = None
            return None
        if self._failing_since is None:
            self._failing_since = now
        allowed = float(probe.get("periodSeconds", 10)) * int(probe.get("failureThreshold", 3))
        if now - self._failing_since < allowed or self.process is None:
            return None
        self._failing_since = None
        self.process.kill()
        return f"Container {self.container.get('name')} failed liveness probe for {allowed:.0f}s, will be restarted"

    def terminate(self) -> None:
        """SIGTERM to whatever of this pod runs (an init container, or the container)."""
        self.stopping = True
        for process in (self._init_process, self.process):
            if process is not None and process.poll() is None:
                process.terminate()

    def stop(self, grace_seconds: float = 10.0) -> None:
        self.terminate()
        deadline = time.monotonic() + grace_seconds
        for process in (self._init_process, self.process):
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # The model copies go; the logs stay for whoever needs to know why a pod failed.
        shutil.rmtree(self.root / "volumes", ignore_errors=True)


def _run_fields(run: tuple[float, float | None, int | None, str] | None
                ) -> tuple[float | None, int | None, float | None, str]:
    if run is None:
        return None, None, None, ""
    started, finished, code, message = run
    return started, code, finished, message


def log_tail(path: Path, limit: int = 2048) -> str:
    """The end of a log, as a kubelet's FallbackToLogsOnError termination message (2 KiB)."""
    try:
        with path.open("rb") as source:
            source.seek(0, os.SEEK_END)
            size = source.tell()
            source.seek(max(0, size - limit))
            return source.read().decode(errors="replace").strip()
    except OSError:
        return ""


PR_SET_PDEATHSIG = 1
# Resolved before any fork: the child must only call it (no dlopen or imports after fork).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """`preexec_fn`: the child gets SIGTERM when the thread that forked it ends, even by SIGKILL.

    Linux only (elsewhere the sandbox's stop() is the only guard). The call is a single
    syscall through a function resolved in the parent, which is safe between fork and exec.
    """
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


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


def runs_here(job: dict[str, Any]) -> bool:
    """A Job the sandbox runs: labelled as ours, or whose every container runs the modelops image."""
    if (job["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "modelops":
        return True
    spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = [str(c.get("image", "")) for c in (*(spec.get("initContainers") or []), *(spec.get("containers") or []))]
    return bool(images) and all(i.split("@")[0].rsplit("/", 1)[-1].split(":")[0] == "modelops" for i in images)


def _container_port(pod_spec: dict[str, Any]) -> int:
    ports = ((pod_spec.get("containers") or [{}])[0].get("ports")) or [{"containerPort": 8080}]
    return int(ports[0]["containerPort"])


def _pod_suffix() -> str:
    """Five characters from the alphabet Kubernetes uses for generated names."""
    return "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


class LocalKubelet:
    """Keeps local processes in line with modelops Deployments and reports them through the API.

    For each Deployment it plays the Deployment controller (ReplicaSet ``D-<hash>``, scaled to
    zero when the template changes), the ReplicaSet controller (Pods owned by it) and the
    kubelet (each Pod a local replica, its status written as it changes). A Pod is deleted
    when its processes are stopped.
    """

    def __init__(self, api: Api, namespace: str, workdir: Path, proxy: ServiceProxy | None = None, *,
                 restart_backoff_s: float = 10.0) -> None:
        self.api = api
        self.restart_backoff_s = restart_backoff_s
        self.proxy = proxy
        self.namespace = namespace
        self.workdir = workdir
        self.replicas: dict[str, list[Replica]] = {}
        self._free = _addresses()
        self._released: list[str] = []
        self._written: dict[str, Any] = {}  # object path -> the status last written there
        self._replicasets: dict[str, dict[str, dict[str, Any]]] = {}  # deployment -> hash -> ReplicaSet
        self.job_pods: dict[str, tuple[str, list[Replica]]] = {}  # job -> (its uid, its pods, oldest first)
        self._node_registered = False
        self._services: list[dict[str, Any]] = []
        self._hosts: dict[tuple[str, str], str] = {}

    # ---- API ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
              content_type: str = "application/json", timeout: float = 10.0) -> Any:
        return self.api.call(method, path, body, query=query, content_type=content_type, timeout=timeout)

    def _path(self, api: str, plural: str, name: str | None = None, sub: str | None = None) -> str:
        path = f"{api}/namespaces/{self.namespace}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def _write_status(self, api: str, plural: str, name: str, status: dict[str, Any]) -> None:
        """Replace an object's status (a JSON patch: no merging of lists or of container states)."""
        path = self._path(api, plural, name, "status")
        if self._written.get(path) == status:
            return
        self._call("PATCH", path, [{"op": "add", "path": "/status", "value": status}],
                   content_type="application/json-patch+json")
        self._written[path] = status

    def _record(self, involved: dict[str, Any], transitions: list[events.Transition], component: str) -> None:
        """Post Events; one that cannot be posted is logged, never fatal (as on a cluster)."""
        for transition in transitions:
            try:
                self._call("POST", self._path("/api/v1", "events"),
                           events.event(involved, transition, component, time.time()))
            except (ApiError, OSError) as exc:
                log.warning("could not record event %s for %s: %s", transition[1], involved.get("name"), exc)

    def _report_pod(self, replica: Replica, status: dict[str, Any]) -> None:
        old = self._written.get(self._path("/api/v1", "pods", replica.name, "status"))
        self._write_status("/api/v1", "pods", replica.name, status)
        if replica.ref is not None:
            self._record(replica.ref, events.pod_transitions(replica.name, old, status), "kubelet")

    def _created_pod(self, pod: dict[str, Any], owner: dict[str, Any], component: str) -> dict[str, Any]:
        """POST a Pod (before its processes start) and record what scheduler and controller say."""
        created = self._call("POST", self._path("/api/v1", "pods"), pod)
        name = created["metadata"]["name"]
        self._record(events.reference(owner), [("Normal", "SuccessfulCreate", f"Created pod: {name}")], component)
        self._record(events.reference(created), [("Normal", "Scheduled", f"Successfully assigned "
                                                  f"{self.namespace}/{name} to {pods.NODE_NAME}")], "default-scheduler")
        return dict(created)

    def _delete(self, api: str, plural: str, name: str) -> None:
        try:
            self._call("DELETE", self._path(api, plural, name), timeout=3.0)
        except ApiError as exc:
            if exc.status != 404:
                raise
        self._written.pop(self._path(api, plural, name, "status"), None)

    # ---- reconcile ----------------------------------------------------------------------

    def _address(self, port: int) -> str:
        """A pod address whose port is free (addresses in use elsewhere are skipped, not lost)."""
        skipped: list[str] = []
        try:
            while True:
                address = self._released.pop() if self._released else next(self._free)
                if _port_free(address, port):
                    return address
                skipped.append(address)
        finally:
            self._released[:0] = skipped

    def _forget_deleted(self) -> None:
        """Objects someone else deleted (`kubectl delete pod`, `... rs`): their processes stop and
        the controllers make new ones, as on a cluster."""
        present = {p["metadata"]["name"] for p in self._call("GET", self._path("/api/v1", "pods"))["items"]}
        sets = {r["metadata"]["name"] for r in self._call("GET", self._path("/apis/apps/v1", "replicasets"))["items"]}
        for name, replicas in self.replicas.items():
            gone = [r for r in replicas if r.name not in present]
            if gone:
                log.info("pods %s were deleted: stopping them", [r.name for r in gone])
                self._stop(gone)
                self.replicas[name] = [r for r in replicas if r.name in present]
        for _uid, replicas in self.job_pods.values():
            gone = [r for r in replicas if r.name not in present]
            if gone:
                self._stop(gone)
                replicas[:] = [r for r in replicas if r.name in present]
        for known in self._replicasets.values():
            for digest in [d for d, rs in known.items() if rs["metadata"]["name"] not in sets]:
                self._written.pop(self._path("/apis/apps/v1", "replicasets", known.pop(digest)["metadata"]["name"],
                                             "status"), None)

    def _register_node(self) -> None:
        """The Node its pods name, as a kubelet registers it (once per start)."""
        try:
            self._call("POST", "/api/v1/nodes", pods.node())
        except ApiError as exc:
            if exc.status != 409:
                raise
        self._call("PATCH", f"/api/v1/nodes/{pods.NODE_NAME}/status",
                   [{"op": "add", "path": "/status", "value": pods.node_status(time.time())}],
                   content_type="application/json-patch+json")
        self._node_registered = True

    def sync_once(self) -> None:
        if not self._node_registered:
            self._register_node()
        self._forget_deleted()
        # before the containers start: their words may name Services (see CLUSTER_NAME)
        self._services = self._call("GET", self._path("/api/v1", "services"))["items"]
        self._hosts = cluster_hosts(self._services)
        listed = self._call("GET", self._path("/apis/apps/v1", "deployments"),
                            query={"labelSelector": MANAGED_SELECTOR})
        seen = set()
        for dep in listed["items"]:
            name = dep["metadata"]["name"]
            seen.add(name)
            self._converge(name, dep)
        for name in list(self.replicas):
            if name not in seen:
                log.info("deployment %s is gone: stopping its replicas", name)
                self._stop(self.replicas.pop(name))
                self._replicasets.pop(name, None)  # the API's garbage collector deletes them
        self._sync_jobs()
        if self.proxy is not None:
            services = self._services
            listed_pods = self._call("GET", self._path("/api/v1", "pods"))["items"]
            self.proxy.update(endpoints(services, listed_pods))

    def _replicaset(self, dep: dict[str, Any], digest: str, want: int) -> dict[str, Any]:
        """ReplicaSet D-<hash> of this template, created when absent, scaled to `want`."""
        known = self._replicasets.setdefault(dep["metadata"]["name"], {})
        rs = known.get(digest)
        desired = pods.replicaset(dep, digest, want)
        if rs is None:
            try:
                rs = self._call("POST", self._path("/apis/apps/v1", "replicasets"), desired)
                self._record(events.reference(dep), [("Normal", "ScalingReplicaSet", f"Scaled up replica set "
                                                      f"{rs['metadata']['name']} from 0 to {want}")],
                             "deployment-controller")
            except ApiError as exc:
                if exc.status != 409:
                    raise
                rs = self._call("GET", self._path("/apis/apps/v1", "replicasets", desired["metadata"]["name"]))
        if rs["spec"].get("replicas") != want:
            before = int(rs["spec"].get("replicas", 0))
            rs = self._call("PATCH", self._path("/apis/apps/v1", "replicasets", rs["metadata"]["name"]),
                            {"spec": {"replicas": want}}, content_type="application/merge-patch+json")
            direction = "up" if want > before else "down"
            self._record(events.reference(dep), [("Normal", "ScalingReplicaSet", f"Scaled {direction} replica set "
                                                  f"{rs['metadata']['name']} from {before} to {want}")],
                         "deployment-controller")
        known[digest] = rs
        return rs

    def _converge(self, name: str, dep: dict[str, Any]) -> None:
        spec = dep.get("spec", {})
        want = int(spec.get("replicas", 1))
        digest = template_hash(dep)
        rs = self._replicaset(dep, digest, want)
        current = [r for r in self.replicas.get(name, []) if r.template_hash == digest]
        stale = [r for r in self.replicas.get(name, []) if r.template_hash != digest]
        self._stop(stale)
        for old_digest, old in list(self._replicasets[name].items()):
            if old_digest != digest:
                self._replicaset(dep, old_digest, 0)
                self._write_status("/apis/apps/v1", "replicasets", old["metadata"]["name"],
                                   pods.replicaset_status(old, replicas=0, ready=0))
        pod_spec = spec.get("template", {}).get("spec", {})
        while len(current) < want:
            pod = self._created_pod(pods.pod(rs, f"{rs['metadata']['name']}-{_pod_suffix()}"), rs,
                                    "replicaset-controller")
            pod_name = pod["metadata"]["name"]
            replica = Replica(
                name=pod_name,
                address=self._address(_container_port(pod_spec)),
                root=self.workdir / "pods" / self.namespace / pod_name,
                template_hash=digest,
                container=pod_spec.get("containers", [{}])[0],
                init_containers=list(pod_spec.get("initContainers", [])),
                volumes=list(pod_spec.get("volumes", [])),
                backoff_s=self.restart_backoff_s,
                ref=events.reference(pod),
                owner=events.reference(rs),
                cluster_hosts=self._hosts,
            )
            replica.start()
            current.append(replica)
        self._stop(current[want:])
        self.replicas[name] = current[:want]
        ready = 0
        for replica in self.replicas[name]:
            replica.cluster_hosts = self._hosts  # as cluster DNS answers now, when the container (re)starts
            replica.start_main()
            killed = replica.check_liveness(time.time())
            if killed is not None and replica.ref is not None:
                self._record(replica.ref, [("Warning", "Unhealthy", "Liveness probe failed"),
                                           ("Normal", "Killing", killed)], "kubelet")
            is_ready = replica.ready()
            ready += is_ready
            self._report_pod(replica, pods.pod_status(replica.view(is_ready)))
        running = len(self.replicas[name])
        self._write_status("/apis/apps/v1", "replicasets", rs["metadata"]["name"],
                           pods.replicaset_status(rs, replicas=running, ready=ready))
        status = pods.deployment_status(dep, new_replicaset=rs["metadata"]["name"], replicas=running,
                                        updated=running, ready=ready, now=time.time())
        # Compare without the timestamps of conditions that did not change: one write per change.
        self._write_status("/apis/apps/v1", "deployments", name, status)

    # ---- Jobs ---------------------------------------------------------------------------

    def _sync_jobs(self) -> None:
        listed = self._call("GET", self._path("/apis/batch/v1", "jobs"))["items"]
        seen = set()
        for job in listed:
            if not runs_here(job):
                continue
            name, uid = job["metadata"]["name"], job["metadata"]["uid"]
            seen.add(name)
            known = self.job_pods.get(name)
            if known is not None and known[0] != uid:  # deleted and created again under the same name
                self._stop(self.job_pods.pop(name)[1])
                known = None
            if known is None:
                if pods.job_finished(job):
                    continue  # finished before this kubelet started: nothing to run
                known = self.job_pods[name] = (uid, [])
            self._converge_job(job, known[1])
        for name in list(self.job_pods):
            if name not in seen:
                log.info("job %s is gone: stopping its pods", name)
                self._stop(self.job_pods.pop(name)[1])

    def _converge_job(self, job: dict[str, Any], replicas: list[Replica]) -> None:
        """One pod at a time, another after a failure while backoffLimit allows, as the Job controller."""
        name = job["metadata"]["name"]
        refusal = next((r.refused for r in replicas if r.refused), None)
        phases = tuple(self._job_pod_phase(r) for r in replicas)
        if not pods.job_finished(job) and refusal is None and pods.retries_left(job, phases):
            pod = self._created_pod(pods.job_pod(job, f"{name}-{_pod_suffix()}"), job, "job-controller")
            spec = pod["spec"]
            replica = Replica(name=pod["metadata"]["name"], address=self._address(_container_port(spec)),
                              root=self.workdir / "pods" / self.namespace / pod["metadata"]["name"],
                              template_hash="", container=(spec.get("containers") or [{}])[0],
                              init_containers=list(spec.get("initContainers") or []),
                              volumes=list(spec.get("volumes") or []), serves=False,
                              ref=events.reference(pod), owner=events.reference(job), cluster_hosts=self._hosts)
            replica.start()
            replicas.append(replica)
        statuses = []
        for replica in replicas:
            replica.cluster_hosts = self._hosts
            replica.start_main()
            status = pods.pod_status(replica.view(replica.running()))
            statuses.append(status)
            self._report_pod(replica, status)
        if not replicas:
            return
        finished = [r.finished_at for r in replicas if r.finished_at is not None]
        run = pods.JobRun(started_at=replicas[0].created_at, phases=tuple(s["phase"] for s in statuses),
                          ready=sum(1 for r in replicas if r.running()),
                          finished_at=max(finished) if finished else None,
                          refusal=next((r.refused for r in replicas if r.refused), None))
        path = self._path("/apis/batch/v1", "jobs", name, "status")
        old, new = self._written.get(path), pods.job_status(job, run)
        self._write_status("/apis/batch/v1", "jobs", name, new)
        self._record(events.reference(job), events.job_transitions(old, new), "job-controller")

    @staticmethod
    def _job_pod_phase(replica: Replica) -> str:
        return str(pods.pod_status(replica.view(replica.running()))["phase"])

    def _stop(self, replicas: list[Replica]) -> None:
        if self.proxy is not None:  # out of the Services before SIGTERM, as a terminating pod leaves endpoints
            self.proxy.drop({replica.address for replica in replicas if replica.serves})
        for replica in replicas:  # all at once: each may take its grace period to exit
            replica.terminate()
        for replica in replicas:
            replica.stop()
            self._released.append(replica.address)
            try:
                self._delete("/api/v1", "pods", replica.name)
                if replica.owner is not None and replica.owner["kind"] == "ReplicaSet":
                    self._record(replica.owner, [("Normal", "SuccessfulDelete", f"Deleted pod: {replica.name}")],
                                 "replicaset-controller")
            except Exception as exc:  # the API may be gone already (shutdown); the pod's processes are not
                log.warning("could not delete pod %s: %s", replica.name, exc)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.sync_once()
            except Exception as exc:  # the API may be restarting; the next pass retries
                log.warning("kubelet sync failed: %s", exc)
            stop.wait(interval)
        self.shutdown()

    def shutdown(self) -> None:
        everything = [replica for name in list(self.replicas) for replica in self.replicas.pop(name)]
        everything += [replica for name in list(self.job_pods) for replica in self.job_pods.pop(name)[1]]
        self._stop(everything)

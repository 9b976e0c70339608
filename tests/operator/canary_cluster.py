"""The test's part of the cluster in the canary integration tests: the Deployment controller
and kubelet (Pod objects for each Deployment's replicas, status available) and the serving
replicas themselves, as small fake pods on 127.0.0.1 exporting the real serving metrics
with values the test controls (``tests.operator.analysis.fakes.FakePod``).

Each Pod object carries the fake pod's address (``podIP`` 127.0.0.1, container port
``http`` = the fake pod's port), so the operator's Pods metrics source scrapes them
exactly as it scrapes a cluster's pods.

Shadow: a Deployment whose ``serve`` container carries ``--shadow-version C`` gets pods that
mirror to ``C`` (``FakePod(shadow_of=C)``: the real shadow series) and count, per tick, what
``shadow(stable, candidate)`` says; a change of the container's args replaces the pods (as the
Deployment controller rolls a new template), and ``args_seen`` records each Deployment's
``serve`` args every time they change.

Also what the canary tests share to start: the strategies they vary (``strategy``, ``CANARY``) and
ModelDeployment churn stable on v1 with v2 at hand (``stable_v1``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from modelops.emulator.testing import EmulatorHandle
from tests.operator.analysis.fakes import HOST, FakePod
from tests.operator.harness import (
    Artifact,
    create_versions,
    event_messages,
    get_mdep,
    has_condition,
    model_deployment,
    running_operator,
    status_of,
    wait_for,
)

# What one replica of a version serves per tick: keyword arguments of FakePod.serve.
Traffic = Callable[[str], dict[str, Any]]
# What one mirroring (stable) replica saw of the candidate per tick: keyword arguments of
# FakePod.mirror, from (stable version, candidate version).
ShadowTraffic = Callable[[str, str], dict[str, Any]]


# Limits good_traffic passes and each bad figure of the tests fails.
LIMITS: dict[str, Any] = {"maxErrorRate": 1, "maxLatencyRatio": 1.5, "maxPredictionPSI": 0.2}


def strategy(type_: str, analysis: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A strategy quick enough for a test: two short steps (20%, 50%), an analysis every second
    on 100 samples with ``analysis``'s limits, failing at the first bad one, the old version
    removed at once. ``fields`` add to it or replace its parts (None leaves one out)."""
    body: dict[str, Any] = {
        "type": type_,
        "canary": {"steps": [{"weight": 20, "pause": "1s"}, {"weight": 50, "pause": "1s"}]},
        "analysis": {"interval": "1s", "minSamples": 100, "failureLimit": 1, **analysis},
        "progressDeadline": "30s",
        "scaleDownDelay": "0s",
        **fields,
    }
    return {key: value for key, value in body.items() if value is not None}


CANARY = strategy("Canary", {**LIMITS, "maxAccuracyDrop": 0.05})


def good_traffic(_version: str) -> dict[str, Any]:
    return {"ok": 20, "seconds": 0.004, "outputs": (10, 10, 0)}


def agreeing_shadow(_stable: str, _candidate: str) -> dict[str, Any]:
    return {"answered": 20, "errors": 0, "rows": 20, "agreed": 20}


def serve_args(dep: dict[str, Any]) -> list[str]:
    containers = dep["spec"].get("template", {}).get("spec", {}).get("containers") or []
    return list(next((c.get("args") or [] for c in containers if c.get("name") == "serve"), []))


def _shadow_of(args: list[str]) -> str | None:
    return args[args.index("--shadow-version") + 1] if "--shadow-version" in args else None


@dataclass
class Replicas:
    """The kubelet and Deployment controller for ModelDeployment ``churn``'s children."""

    k8s: EmulatorHandle
    loop: asyncio.AbstractEventLoop
    traffic: Traffic = good_traffic
    shadow: ShadowTraffic = agreeing_shadow
    pods: dict[str, FakePod] = field(default_factory=dict)  # Pod name -> its fake server
    args_seen: dict[str, list[list[str]]] = field(default_factory=dict)  # Deployment -> serve args, as changed
    # version -> how many of its replicas ever come up (the rest stay unavailable, no Pod)
    cap: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _start(self, name: str, version: str, shadow_of: str | None = None) -> FakePod:
        pod = FakePod(name, version, shadow_of=shadow_of)
        asyncio.run_coroutine_threadsafe(pod.start(), self.loop).result(10)
        return pod

    def _stop(self, pod: FakePod) -> None:
        asyncio.run_coroutine_threadsafe(pod.stop(), self.loop).result(10)

    def tick(self) -> None:
        """One round of the controllers' work, and one tick of traffic on every replica."""
        with self.lock:
            wanted: dict[str, tuple[str, dict[str, Any]]] = {}
            for dep in self.k8s.list("apps/v1", "Deployment", "default"):
                name, replicas = dep["metadata"]["name"], int(dep["spec"].get("replicas", 1))
                version = dep["metadata"]["labels"]["modelops.dev/version"]
                args = serve_args(dep)
                seen = self.args_seen.setdefault(name, [])
                if not seen or seen[-1] != args:
                    seen.append(args)
                ready = min(replicas, self.cap.get(version, replicas))
                for i in range(ready):
                    wanted[f"{name}-{i}"] = (version, dep)
                status = dep.get("status") or {}
                generation = dep["metadata"].get("generation", 1)
                if status.get("availableReplicas") != ready or status.get("observedGeneration") != generation:
                    for i in range(ready):
                        self._pod(f"{name}-{i}", version, dep)
                    self.k8s.patch_status("apps/v1", "Deployment", name, {
                        "observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
                        "availableReplicas": ready,
                    })
            for name in list(self.pods):
                if name not in wanted:
                    self._stop(self.pods.pop(name))
                    if self.k8s.find("v1", "Pod", name) is not None:
                        self.k8s.delete("v1", "Pod", name)
            for pod in self.pods.values():
                pod.serve(**self.traffic(pod.version))
                if pod.shadow_of is not None:
                    pod.mirror(**self.shadow(pod.version, pod.shadow_of))

    def _pod(self, name: str, version: str, dep: dict[str, Any]) -> None:
        shadow_of = _shadow_of(serve_args(dep))
        running = self.pods.get(name)
        if running is not None and running.shadow_of == shadow_of:
            return
        if running is not None:  # a new template (the mirror flags came or went): a new pod
            # as a kubelet does: the Pod leaves the API (and the scrapers' lists) before its process stops
            self.k8s.delete("v1", "Pod", name)
            self._stop(self.pods.pop(name))
        fake = self._start(name, version, shadow_of)
        self.pods[name] = fake
        labels = dict(dep["spec"]["template"]["metadata"]["labels"])
        self.k8s.seed({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "serve", "image": "img",
                                     "ports": [{"name": "http", "containerPort": fake.port}]}]},
            "status": {"phase": "Running", "podIP": HOST,
                       "conditions": [{"type": "Ready", "status": "True"}]},
        })

    def until(self, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 40.0) -> dict[str, Any]:
        """Play the controllers and the traffic until ModelDeployment churn satisfies ``check``."""

        def look() -> dict[str, Any] | None:
            self.tick()
            obj = get_mdep(self.k8s)
            return obj if check(obj) else None

        return wait_for(look, what, timeout)

    def versions(self) -> dict[str, int]:
        with self.lock:
            out: dict[str, int] = {}
            for pod in self.pods.values():
                out[pod.version] = out.get(pod.version, 0) + 1
            return out


def stable_v1(replicas: Replicas, artifacts: tuple[Artifact, Artifact], strategy: dict[str, Any],
              what: str = "churn-v1 stable", **spec: Any) -> dict[str, Any]:
    """ModelVersions churn-v1 and churn-v2, and ModelDeployment churn (``strategy``, ``spec``)
    serving churn-v1, played until Ready; returned. The operator must be running."""
    create_versions(replicas.k8s, artifacts)
    replicas.k8s.create(model_deployment("churn-v1", strategy=strategy, **spec))
    return replicas.until(lambda o: has_condition(o, "Ready", "True"), what)


def rolled_back(replicas: Replicas, what: str) -> dict[str, Any]:
    """Play until ModelDeployment churn is RolledBack, and check what an analysis's rollback of
    churn-v2 leaves: churn-v1 stable, no candidate, Progressing False (AnalysisFailed). Returned."""
    done = replicas.until(lambda o: status_of(o).get("phase") == "RolledBack", what)
    assert (status_of(done)["stable"], status_of(done).get("candidate")) == ("churn-v1", None)
    assert has_condition(done, "Progressing", "False", "AnalysisFailed")
    return done


@dataclass(frozen=True)
class Restart:
    """One fresh operator of ``restarted_at_every_step``: the step it started at, the status the
    last one left, and each status it showed while that step held (churn-v2 the candidate)."""

    step: int
    before: dict[str, Any]
    same_step: list[dict[str, Any]]


def restarted_at_every_step(replicas: Replicas, prepare: Callable[[int], None]) -> Iterator[Restart]:
    """Until churn-v2 is stable: ``prepare(step)`` for the step the status is at, then a fresh
    operator, played until the status moves past that step. Each fresh operator must resume the
    step: never a third Deployment, the step's start kept, no analysis recorded before the last
    one, no rollback; what it showed is yielded for the test's own checks."""
    k8s = replicas.k8s
    while status_of(get_mdep(k8s)).get("stable") != "churn-v2":
        before = status_of(get_mdep(k8s))
        step = int(before["step"])
        seen: list[dict[str, Any]] = []

        def moved_on(o: dict[str, Any], step: int = step, seen: list[dict[str, Any]] = seen) -> bool:
            seen.append(status_of(o))
            deployments = k8s.list("apps/v1", "Deployment", "default")
            assert len(deployments) <= 2, [d["metadata"]["name"] for d in deployments]  # never a duplicate
            return int(status_of(o).get("step") or 0) > step or status_of(o).get("stable") == "churn-v2"

        prepare(step)
        with running_operator(k8s):
            replicas.until(moved_on, f"past step {step + 1} after a restart")
        same_step = [s for s in seen if s.get("step") == step and s.get("candidate") == "churn-v2"]
        assert {s["stepStartedAt"] for s in same_step} <= {before["stepStartedAt"]}  # not started again
        # the next analysis came one interval or more after the recorded one
        if before.get("lastAnalysisAt"):
            assert all(s["lastAnalysisAt"] >= before["lastAnalysisAt"] for s in same_step if s.get("lastAnalysisAt"))
        assert not event_messages(k8s, "RolledBack")
        yield Restart(step, before, same_step)


@contextmanager
def serving_replicas(k8s: EmulatorHandle) -> Iterator[Replicas]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-pods", daemon=True)
    thread.start()
    replicas = Replicas(k8s, loop)
    try:
        yield replicas
    finally:
        for pod in list(replicas.pods.values()):
            replicas._stop(pod)
        # Closed transports close their sockets on a later loop iteration: let those run
        # before the loop stops, or the sockets are left for the garbage collector.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.2), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

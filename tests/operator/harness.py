"""Running the real operator (kopf over HTTP) against the emulator, and waiting on its results."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from sklearn.linear_model import LogisticRegression

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.artifact.build import build_artifact
from modelops.emulator.testing import EmulatorHandle, running_emulator
from modelops.operator.modeldeployment import children
from modelops.operator.modeldeployment.children import Owner, ServedVersion
from modelops.operator.options import Options
from modelops.operator.runner import operate

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
MV_API = "modelops.dev/v1alpha1"
IMAGE = "registry.test/modelops:test"
NOW = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")  # when seeded objects say they were

# Short timeouts: a test waits seconds, not minutes, for a dropped watch or a retry.
FAST = Options(
    health_port=None,
    metrics_port=None,
    image=IMAGE,
    workers=2,
    resync_s=5.0,
    backoff_base_s=0.2,
    backoff_max_s=2.0,
    watch_server_timeout_s=10.0,
    watch_reconnect_backoff_s=0.1,
    request_timeout_s=10.0,
    artifact_timeout_s=5.0,
)


@dataclass(frozen=True)
class Artifact:
    uri: str
    sha256: str


def operator_emulator(directory: Path, *crds: Path) -> AbstractContextManager[EmulatorHandle]:
    """An emulator as the operator's tests run it: our CRDs (and ``crds``), a bookmark every second
    (a watch resumes soon after a dropped stream); its kubeconfig in ``directory``."""
    return running_emulator(directory / "kubeconfig", bookmark_interval=1.0, crds=[CRDS, *crds])


@contextmanager
def running_operator(k8s: EmulatorHandle, **overrides: Any) -> Iterator[threading.Event]:
    """The operator in a thread with its own event loop, as `modelops operator` runs it. Yields its
    stop flag: setting it stops the operator as SIGTERM does (the block's end sets it too)."""
    options = replace(FAST, kubeconfig=k8s.kubeconfig, **overrides)
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(operate(options, stop_flag=stop, ready_flag=ready))
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)

    thread = threading.Thread(target=main, name="modelops-operator", daemon=True)
    thread.start()
    try:
        if not ready.wait(30):
            raise AssertionError(f"operator did not start: {errors}")
        yield stop
    finally:
        stop.set()
        thread.join(30)
        if errors:
            raise AssertionError(f"operator failed: {errors[0]!r}") from errors[0]


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # not there yet
            last = exc
        if last and not isinstance(last, Exception):
            return cast(T, last)
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def make_artifact(directory: Path, seed: int = 0) -> tuple[str, str]:
    """A real artifact of a tiny fitted model: (file:// uri, sha256)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    sha = build_artifact(model, x, ["a", "b", "c"], y, directory)
    return directory.resolve().as_uri(), sha


def model_version(name: str, uri: str, sha: str, model: str = "churn", **artifact: Any) -> dict[str, Any]:
    return {
        "apiVersion": MV_API, "kind": "ModelVersion",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"model": model, "artifact": {"uri": uri, "sha256": sha, **artifact}},
    }


def model_deployment(version: str | None, name: str = "churn", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "churn", "replicas": 2, **spec}
    if version is not None:
        body["version"] = version
    return {"apiVersion": MV_API, "kind": "ModelDeployment",
            "metadata": {"name": name, "namespace": "default"}, "spec": body}


def create_versions(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]) -> None:
    """ModelVersions churn-v1 and churn-v2 of model churn, one per artifact."""
    for name, artifact in zip(("churn-v1", "churn-v2"), artifacts, strict=True):
        k8s.create(model_version(name, artifact.uri, artifact.sha256))


def apply_v1(k8s: EmulatorHandle, artifact: Artifact, **spec: Any) -> None:
    """ModelVersion churn-v1 of ``artifact`` and ModelDeployment churn (``spec``) serving it."""
    k8s.create(model_version("churn-v1", artifact.uri, artifact.sha256))
    k8s.create(model_deployment("churn-v1", **spec))


def ready_version(name: str, artifact: Artifact) -> dict[str, Any]:
    """ModelVersion ``name`` as the operator leaves it once verified (to seed, not create)."""
    mv = model_version(name, artifact.uri, artifact.sha256)
    ready = {"type": "Ready", "status": "True", "reason": "Verified", "message": "seeded",
             "observedGeneration": 1, "lastTransitionTime": NOW}
    verified = dict(ready, type="ArtifactVerified")
    mv["status"] = {"observedGeneration": 1, "conditions": [verified, ready]}
    return mv


def seed_mid_rollout(k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact],
                     deployed: tuple[str, ...] = ("churn-v1",)) -> None:
    """A cluster an operator left at step 0 of rolling churn-v2 out beside a stable churn-v1 (since
    ``NOW``): both versions Ready, status saying so, the ``deployed`` versions' Deployments and
    Services made, Service churn on churn-v1, churn-v1's 2 pods available. No operator needed."""
    k8s.seed(ready_version("churn-v1", artifacts[0]))
    k8s.seed(ready_version("churn-v2", artifacts[1]))
    mdep = model_deployment("churn-v2")
    mdep["status"] = {
        "observedGeneration": 1, "phase": "Progressing", "stable": "churn-v1", "candidate": "churn-v2",
        "weight": 0, "step": 0, "stepStartedAt": NOW,
        "history": [{"version": "churn-v1", "result": "Promoted", "at": NOW, "reason": "seeded"}],
    }
    seeded = k8s.seed(mdep)
    owner = Owner("churn", "default", seeded["metadata"]["uid"])
    spec = ModelDeploymentSpec.model_validate(mdep["spec"])
    for name, artifact in zip(("churn-v1", "churn-v2"), artifacts, strict=True):
        if name in deployed:
            k8s.create(children.deployment(owner, spec, ServedVersion(name, artifact.uri, artifact.sha256), IMAGE))
            k8s.create(children.version_service(owner, "churn", name))
    k8s.create(children.main_service(owner, "churn", "churn-v1"))
    play_deployment_controller(k8s, "churn-churn-v1", 2)


def get_mdep(k8s: EmulatorHandle) -> dict[str, Any]:
    """ModelDeployment churn as it is now."""
    return k8s.get(MV_API, "ModelDeployment", "churn")


def status_of(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def event_messages(k8s: EmulatorHandle, reason: str) -> list[str]:
    """The messages of the Events in namespace default with ``reason``."""
    return [str(e.get("message")) for e in k8s.list("v1", "Event", "default") if e.get("reason") == reason]


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def has_condition(obj: dict[str, Any] | None, type_: str, status: str, reason: str | None = None) -> bool:
    cond = condition(obj, type_)
    return cond is not None and cond["status"] == status and (reason is None or cond["reason"] == reason)


def play_deployment_controller(k8s: EmulatorHandle, name: str, available: int) -> None:
    """What the Deployment controller would report once ``available`` pods pass readiness."""
    dep = k8s.get("apps/v1", "Deployment", name)
    k8s.patch_status("apps/v1", "Deployment", name, {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": dep["spec"]["replicas"], "readyReplicas": available, "availableReplicas": available,
    })


def play_when_created(k8s: EmulatorHandle, name: str, available: int) -> None:
    """Wait for the operator to create Deployment ``name``, then play its controller: ``available``
    pods pass readiness. The operator must be running."""
    wait_for(lambda: k8s.find("apps/v1", "Deployment", name), f"Deployment {name}")
    play_deployment_controller(k8s, name, available)


def bring_up_v1(k8s: EmulatorHandle, what: str = "churn-v1 stable") -> dict[str, Any]:
    """ModelDeployment churn serving churn-v1 (already applied) once its 2 pods are available: its
    Deployment played as it comes, then churn Ready; returned. The operator must be running."""
    play_when_created(k8s, "churn-churn-v1", 2)
    return wait_deployment(k8s, what, lambda o: has_condition(o, "Ready", "True"))


def wait_object(
    k8s: EmulatorHandle, api_version: str, kind: str, name: str, check: Callable[[dict[str, Any]], bool],
    *, what: str, timeout: float = 30.0,
) -> dict[str, Any]:
    """Wait until the object exists and ``check`` holds for it; return it."""

    def current() -> dict[str, Any] | None:
        obj = k8s.find(api_version, kind, name)
        return obj if obj is not None and check(obj) else None

    return wait_for(current, what, timeout)


def wait_deployment(
    k8s: EmulatorHandle, what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 30.0
) -> dict[str, Any]:
    """Wait until ModelDeployment ``churn`` satisfies ``check``; return it."""
    return wait_object(k8s, MV_API, "ModelDeployment", "churn", check, what=what, timeout=timeout)

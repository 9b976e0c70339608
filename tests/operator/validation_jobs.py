"""Playing the Job controller and kubelet for validation Jobs in integration tests.

``run_validation_job`` runs the very command the operator put in the Job (``modelops
validate`` with its args, in this process), then writes a Pod and the Job's status as a
cluster would: the container terminated with the termination log's content as its message.
So the figures the operator reads are real ones, computed by the validation package.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from modelops.artifact.build import build_artifact
from modelops.cli import main as modelops_main
from modelops.conditions import now_rfc3339
from modelops.emulator.testing import EmulatorHandle

from .harness import MV_API, wait_for

SENSITIVE = "group"
TARGET = "approved"
FEATURES = ["x1", "x2", "is_b"]


@dataclass(frozen=True)
class Built:
    uri: str
    sha256: str


def applicants(n: int, seed: int, *, biased_labels: bool = False) -> pd.DataFrame:
    """Groups A and B with the same merit; ``biased_labels`` turns most of B down (a biased past)."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "A", "B")
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > 0).astype(int)
    if biased_labels:
        y = np.where((group == "B") & (rng.random(n) < 0.8), 0, y)
    return pd.DataFrame({"x1": x1, "x2": x2, "is_b": (group == "B").astype(float), SENSITIVE: group, TARGET: y})


def build(directory: Path, *, biased: bool, lineage: dict[str, Any] | None = None) -> Built:
    train = applicants(1000, seed=0, biased_labels=biased)
    model = LogisticRegression().fit(train[FEATURES], train[TARGET])
    sha = build_artifact(model, train, FEATURES, train[TARGET].to_numpy(), directory, target_name=TARGET,
                         lineage=lineage)
    return Built(directory.resolve().as_uri(), sha)


def holdout_csv(path: Path) -> str:
    applicants(800, seed=1).to_csv(path, index=False)
    return path.resolve().as_uri()


def validated_version(name: str, built: Built, validation: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": MV_API, "kind": "ModelVersion",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"model": "churn", "artifact": {"uri": built.uri, "sha256": built.sha256},
                 "validation": validation, **spec},
    }


def run_validation_job(k8s: EmulatorHandle, name: str, workdir: Path, *, crash: bool = False) -> dict[str, Any]:
    """Run Job ``name``'s container as a kubelet would and report Pod and Job status; with
    ``crash`` the pod dies without writing anything (the Job then fails, as after backoffLimit)."""
    job = wait_for(lambda: k8s.find("batch/v1", "Job", name), f"validation Job {name}")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    log = workdir / f"{name}.termination-log"
    args = list(container["args"])
    args[args.index("--termination-log") + 1] = str(log)
    if crash:
        code, message = 137, ""
    else:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = modelops_main(args)
        message = log.read_text()
    uid, stamp = job["metadata"]["uid"], now_rfc3339()
    pod_name = f"{name}-x1"
    k8s.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": "default",
                     "labels": {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                                "batch.kubernetes.io/job-name": name, "job-name": name},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                                          "controller": True}]},
        "spec": job["spec"]["template"]["spec"],
    })
    k8s.patch_status("v1", "Pod", pod_name, {
        "phase": "Succeeded" if code == 0 else "Failed",
        "containerStatuses": [{"name": "validate", "ready": False, "restartCount": 0, "image": container["image"],
                               "imageID": "", "state": {"terminated": {
                                   "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                   "message": message, "startedAt": stamp, "finishedAt": stamp}}}],
    })
    if code == 0:
        status = {"succeeded": 1, "completionTime": stamp, "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": stamp}]}
    else:
        status = {"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit", "lastTransitionTime": stamp}]}
    k8s.patch_status("batch/v1", "Job", name, {"startTime": stamp, **status})
    return job

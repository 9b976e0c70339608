"""The objects a Deployment controller and a kubelet write, built from what the sandbox observes.

Pure functions, no I/O: from a Deployment and a snapshot of a local replica they build the
ReplicaSet ``D-<hash>``, the Pod (spec from the template, ``nodeName``, owner reference to the
ReplicaSet) and the Pod's status as a kubelet reports it (phase, ``podIP``, ``hostIP``,
PodScheduled/Initialized/ContainersReady/Ready, container statuses with ``ready``,
``restartCount`` and a ``waiting``/``running``/``terminated`` state), and the Deployment's and
ReplicaSet's status with the Available/Progressing conditions the Deployment controller sets.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

NODE_NAME = "modelops-sandbox"
HOST_IP = "127.0.0.1"
TEMPLATE_HASH_LABEL = "pod-template-hash"
IMAGE_ID = "modelops-sandbox://local-process"


def rfc3339(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ContainerView:
    """One container as the kubelet last saw it."""

    name: str
    image: str
    started_at: float | None = None  # None: not started yet
    exit_code: int | None = None  # set once it ended
    finished_at: float | None = None
    message: str = ""  # termination message (or the log's tail when it failed)
    ready: bool = False
    restarts: int = 0
    # The previous instance, restarted since: (exit code, started, finished, message).
    last_exit: tuple[int, float | None, float | None, str] | None = None
    waiting_reason: str | None = None  # e.g. CrashLoopBackOff while the restart waits


@dataclass(frozen=True)
class PodView:
    """A local replica, seen at one moment."""

    name: str
    address: str
    created_at: float
    init: tuple[ContainerView, ...] = ()
    main: tuple[ContainerView, ...] = ()
    # A pod the kubelet will not run (a command outside the allow-list): its reason and message.
    refused: tuple[str, str] | None = None


def replicaset_name(deployment: str, template_hash: str) -> str:
    return f"{deployment}-{template_hash}"


def _owner(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def replicaset(deployment: dict[str, Any], template_hash: str, replicas: int) -> dict[str, Any]:
    """ReplicaSet ``D-<hash>``, owned by the Deployment, as the Deployment controller makes it."""
    meta, spec = deployment["metadata"], deployment.get("spec", {})
    template = spec.get("template", {})
    labels = {**(template.get("metadata", {}).get("labels") or {}), TEMPLATE_HASH_LABEL: template_hash}
    selector = {"matchLabels": {**(spec.get("selector", {}).get("matchLabels") or {}),
                                TEMPLATE_HASH_LABEL: template_hash}}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": replicaset_name(meta["name"], template_hash), "namespace": meta.get("namespace"),
                     "labels": labels, "ownerReferences": [_owner(deployment, "apps/v1", "Deployment")]},
        "spec": {"replicas": replicas, "selector": selector,
                 "template": {**template, "metadata": {**template.get("metadata", {}), "labels": labels}}},
    }


def pod(rs: dict[str, Any], name: str) -> dict[str, Any]:
    """A Pod of the ReplicaSet's template, bound to the sandbox's node."""
    template = rs["spec"]["template"]
    metadata = {"name": name, "namespace": rs["metadata"].get("namespace"),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [_owner(rs, "apps/v1", "ReplicaSet")]}
    if template["metadata"].get("annotations"):
        metadata["annotations"] = dict(template["metadata"]["annotations"])
    spec = {**template.get("spec", {}), "nodeName": NODE_NAME}
    spec.setdefault("restartPolicy", "Always")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _state(view: ContainerView, waiting_reason: str) -> dict[str, Any]:
    if view.exit_code is not None:
        terminated: dict[str, Any] = {"exitCode": view.exit_code,
                                      "reason": "Completed" if view.exit_code == 0 else "Error",
                                      "startedAt": rfc3339(view.started_at or view.finished_at or 0),
                                      "finishedAt": rfc3339(view.finished_at or view.started_at or 0)}
        if view.message:
            terminated["message"] = view.message
        return {"terminated": terminated}
    if view.started_at is not None:
        return {"running": {"startedAt": rfc3339(view.started_at)}}
    return {"waiting": {"reason": waiting_reason}}


def _container_status(view: ContainerView, waiting_reason: str, *, started: bool | None = None) -> dict[str, Any]:
    status = {"name": view.name, "image": view.image, "imageID": IMAGE_ID if view.started_at else "",
              "ready": view.ready and view.exit_code is None, "restartCount": view.restarts,
              "state": _state(view, view.waiting_reason or waiting_reason)}
    if view.waiting_reason is not None and view.started_at is None:
        status["state"] = {"waiting": {"reason": view.waiting_reason,
                                       "message": f"back-off restarting failed container {view.name}"}}
    if view.last_exit is not None:
        code, began, ended, message = view.last_exit
        previous = ContainerView(view.name, view.image, started_at=began, exit_code=code, finished_at=ended,
                                 message=message)
        status["lastState"] = _state(previous, "")
    if started is not None:
        status["started"] = started
    return status


def _condition(kind: str, ok: bool, since: float, reason: str = "") -> dict[str, Any]:
    condition: dict[str, Any] = {"type": kind, "status": "True" if ok else "False",
                                 "lastProbeTime": None, "lastTransitionTime": rfc3339(since)}
    if reason and not ok:
        condition["reason"] = reason
    return condition


def pod_status(view: PodView) -> dict[str, Any]:
    """The Pod's status as a kubelet reports it for what `view` shows."""
    base: dict[str, Any] = {"hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}], "startTime": rfc3339(view.created_at),
                            "qosClass": "BestEffort"}
    if view.refused is not None:
        reason, message = view.refused
        return {**base, "phase": "Failed", "reason": reason, "message": message,
                "conditions": [_condition("PodScheduled", True, view.created_at)],
                "containerStatuses": [{**_container_status(c, reason), "state": {
                    "waiting": {"reason": reason, "message": message}}} for c in view.main]}
    init_done = all(c.exit_code == 0 for c in view.init)
    init_failed = any(c.exit_code not in (None, 0) for c in view.init)
    main_ended = [c for c in view.main if c.exit_code is not None]
    running = [c for c in view.main if c.started_at is not None and c.exit_code is None]
    if init_failed or any(c.exit_code for c in main_ended):
        phase = "Failed"
    elif view.main and len(main_ended) == len(view.main):
        phase = "Succeeded"
    elif running or any(c.restarts for c in view.main):
        phase = "Running"  # a container restarting after a crash keeps its pod Running
    else:
        phase = "Pending"
    ready = bool(view.main) and all(c.ready and c.exit_code is None for c in view.main)
    initialized_at = max((c.finished_at or view.created_at for c in view.init), default=view.created_at)
    ready_since = max((c.started_at or view.created_at for c in view.main), default=view.created_at)
    waiting = "PodInitializing" if view.init and not init_done else "ContainerCreating"
    status = {
        **base, "phase": phase,
        "conditions": [
            _condition("PodScheduled", True, view.created_at),
            _condition("Initialized", init_done, initialized_at, "ContainersNotInitialized"),
            _condition("ContainersReady", ready, ready_since, "ContainersNotReady"),
            _condition("Ready", ready, ready_since, "ContainersNotReady"),
        ],
        "containerStatuses": [_container_status(c, waiting, started=c.started_at is not None and c.exit_code is None)
                              for c in view.main],
    }
    if running or main_ended or phase == "Running":
        status["podIP"] = view.address
        status["podIPs"] = [{"ip": view.address}]
    if view.init:
        status["initContainerStatuses"] = [_container_status(c, "PodInitializing") for c in view.init]
    return status


def _kept(old: list[dict[str, Any]], new: dict[str, Any]) -> dict[str, Any]:
    """A condition keeps its lastTransitionTime while its status does not change."""
    before = next((c for c in old if c.get("type") == new["type"]), None)
    if before is not None and before.get("status") == new["status"]:
        return {**new, "lastTransitionTime": before.get("lastTransitionTime", new["lastTransitionTime"]),
                "lastUpdateTime": before.get("lastUpdateTime", new["lastUpdateTime"])
                if before.get("reason") == new.get("reason") else new["lastUpdateTime"]}
    return new


def deployment_status(deployment: dict[str, Any], *, new_replicaset: str, replicas: int, updated: int,
                      ready: int, now: float) -> dict[str, Any]:
    """Status as the Deployment controller writes it, with Available and Progressing."""
    want = int(deployment.get("spec", {}).get("replicas", 1))
    max_unavailable = want // 4  # the default 25%, rounded down as for maxUnavailable
    stamp = rfc3339(now)
    available_ok = ready >= want - max_unavailable
    complete = updated == want and ready >= want and replicas == want
    old = (deployment.get("status") or {}).get("conditions") or []
    conditions = [
        _kept(old, {"type": "Available", "status": "True" if available_ok else "False",
                    "reason": "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability." if available_ok
                    else "Deployment does not have minimum availability.",
                    "lastUpdateTime": stamp, "lastTransitionTime": stamp}),
        _kept(old, {"type": "Progressing", "status": "True",
                    "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                    "message": f'ReplicaSet "{new_replicaset}" '
                    f'{"has successfully progressed" if complete else "is progressing"}.',
                    "lastUpdateTime": stamp, "lastTransitionTime": stamp}),
    ]
    status: dict[str, Any] = {
        "observedGeneration": int(deployment["metadata"].get("generation", 1)),
        "replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
        "conditions": conditions,
    }
    if want - ready > 0:
        status["unavailableReplicas"] = max(replicas, want) - ready
    return status


def replicaset_status(rs: dict[str, Any], *, replicas: int, ready: int) -> dict[str, Any]:
    return {"observedGeneration": int(rs["metadata"].get("generation", 1)), "replicas": replicas,
            "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready}


# ---- Jobs -------------------------------------------------------------------------------

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def job_pod(job: dict[str, Any], name: str) -> dict[str, Any]:
    """A Pod of the Job's template, owned by the Job, labelled as the Job controller labels it."""
    meta = job["metadata"]
    template = (job.get("spec") or {}).get("template") or {}
    labels = {**((template.get("metadata") or {}).get("labels") or {}),
              JOB_NAME_LABEL: meta["name"], "job-name": meta["name"],
              CONTROLLER_UID_LABEL: meta["uid"], "controller-uid": meta["uid"]}
    metadata: dict[str, Any] = {"name": name, "namespace": meta.get("namespace"), "labels": labels,
                                "ownerReferences": [_owner(job, "batch/v1", "Job")]}
    if (template.get("metadata") or {}).get("annotations"):
        metadata["annotations"] = dict(template["metadata"]["annotations"])
    spec = {**(template.get("spec") or {}), "nodeName": NODE_NAME}
    spec.setdefault("restartPolicy", "Never")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


@dataclass(frozen=True)
class JobRun:
    """A Job's pods as the kubelet last saw them: started at, and each pod's phase."""

    started_at: float
    phases: tuple[str, ...]  # Pending | Running | Succeeded | Failed, oldest first
    ready: int = 0
    finished_at: float | None = None
    refusal: str | None = None  # a pod was refused: the Job fails at once, with this message


def job_status(job: dict[str, Any], run: JobRun) -> dict[str, Any]:
    """The Job's status as the Job controller writes it: counts, start/completion, conditions."""
    backoff_limit = int((job.get("spec") or {}).get("backoffLimit", 6))
    succeeded = sum(1 for p in run.phases if p == "Succeeded")
    failed = sum(1 for p in run.phases if p == "Failed")
    active = sum(1 for p in run.phases if p in ("Pending", "Running"))
    status: dict[str, Any] = {"startTime": rfc3339(run.started_at), "active": active, "succeeded": succeeded,
                              "failed": failed, "ready": run.ready, "terminating": 0}
    old = (job.get("status") or {}).get("conditions") or []
    stamp = rfc3339(run.finished_at or run.started_at)

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        kept = next((c for c in old if c.get("type") == kind and c.get("status") == "True"), None)
        return kept or {"type": kind, "status": "True", "reason": reason, "message": message,
                        "lastProbeTime": stamp, "lastTransitionTime": stamp}

    if succeeded:
        status["completionTime"] = stamp
        status["conditions"] = [condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of "
                                          "succeeded pods"),
                                condition("Complete", "CompletionsReached", "Reached expected number of succeeded "
                                          "pods")]
    elif run.refusal is not None:
        status["conditions"] = [condition("FailureTarget", "UnsupportedCommand", run.refusal),
                                condition("Failed", "UnsupportedCommand", run.refusal)]
    elif failed > backoff_limit:
        message = "Job has reached the specified backoff limit"
        status["conditions"] = [condition("FailureTarget", "BackoffLimitExceeded", message),
                                condition("Failed", "BackoffLimitExceeded", message)]
    return status


def job_finished(job: dict[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def retries_left(job: dict[str, Any], phases: tuple[str, ...]) -> bool:
    """Whether the Job controller would start another pod: none running, none succeeded, and
    failures within backoffLimit."""
    backoff_limit = int((job.get("spec") or {}).get("backoffLimit", 6))
    if any(p in ("Pending", "Running", "Succeeded") for p in phases):
        return False
    return sum(1 for p in phases if p == "Failed") <= backoff_limit


def node() -> dict[str, Any]:
    """The sandbox's one Node: this machine, running pods as local processes."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
                                                       "node-role.kubernetes.io/control-plane": ""}},
            "spec": {}}


def node_status(now: float) -> dict[str, Any]:
    import os
    import platform

    from modelops import __version__

    stamp = rfc3339(now)
    return {
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status", "lastHeartbeatTime": stamp,
                        "lastTransitionTime": stamp}],
        "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": NODE_NAME}],
        "capacity": {"cpu": str(os.cpu_count() or 1), "pods": "110"},
        "allocatable": {"cpu": str(os.cpu_count() or 1), "pods": "110"},
        "nodeInfo": {"kubeletVersion": f"v1.32.0+modelops.{__version__}", "osImage": platform.platform(),
                     "kernelVersion": platform.release(), "operatingSystem": "linux",
                     "architecture": platform.machine(), "containerRuntimeVersion": IMAGE_ID},
    }

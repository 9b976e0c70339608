"""The Events a cluster's controllers and kubelet record, for what the sandbox does.

`kubectl get events` and `kubectl describe` in the sandbox tell the same story as on a
cluster: the scheduler's `Scheduled`, the ReplicaSet and Job controllers' `SuccessfulCreate`
and `SuccessfulDelete`, the Deployment controller's `ScalingReplicaSet`, the kubelet's
`Created`/`Started`/`BackOff`/`Failed`, and the Job controller's `Completed` or
`BackoffLimitExceeded`. Pure functions: the kubelet posts what they return.
"""

from __future__ import annotations

import secrets
from typing import Any

from modelops.sandbox.pods import rfc3339

Transition = tuple[str, str, str]  # type, reason, message


def reference(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""), "name": meta["name"],
            "namespace": meta.get("namespace"), "uid": meta.get("uid", "")}


def event(involved: dict[str, Any], transition: Transition, component: str, now: float) -> dict[str, Any]:
    kind, reason, message = transition
    stamp = rfc3339(now)
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{involved['name']}.{secrets.token_hex(8)}", "namespace": involved["namespace"]},
            "involvedObject": involved, "type": kind, "reason": reason, "message": message,
            "source": {"component": component, **({"host": "modelops-sandbox"} if component == "kubelet" else {})},
            "reportingComponent": component, "reportingInstance": "modelops-sandbox",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1}


def _by_name(status: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    status = status or {}
    return {c["name"]: c for c in (*(status.get("initContainerStatuses") or []),
                                   *(status.get("containerStatuses") or []))}


def _started(container: dict[str, Any]) -> bool:
    state = container.get("state") or {}
    return "running" in state or bool((state.get("terminated") or {}).get("startedAt"))


def pod_transitions(pod: str, old: dict[str, Any] | None, new: dict[str, Any]) -> list[Transition]:
    """The kubelet's events between two statuses of one pod."""
    found: list[Transition] = []
    if new.get("reason") and new.get("reason") != (old or {}).get("reason"):
        found.append(("Warning", "Failed", f"Error: {new.get('message', new['reason'])}"))
    before = _by_name(old)
    for name, container in _by_name(new).items():
        previous = before.get(name, {})
        restarted = container.get("restartCount", 0) > previous.get("restartCount", 0)
        if _started(container) and (not _started(previous) or restarted):
            found += [("Normal", "Created", f"Created container {name}"),
                      ("Normal", "Started", f"Started container {name}")]
        waiting = (container.get("state") or {}).get("waiting") or {}
        was_waiting = (previous.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff" and was_waiting.get("reason") != "CrashLoopBackOff":
            found.append(("Warning", "BackOff", f"Back-off restarting failed container {name} in pod {pod}"))
    return found


def job_transitions(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Transition]:
    """The Job controller's events when a Job completes or fails."""
    had = {c["type"] for c in (old or {}).get("conditions") or [] if c.get("status") == "True"}
    now = {c["type"]: c for c in new.get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in now and "Complete" not in had:
        return [("Normal", "Completed", "Job completed")]
    if "Failed" in now and "Failed" not in had:
        return [("Warning", str(now["Failed"].get("reason", "Failed")), str(now["Failed"].get("message", "")))]
    return []

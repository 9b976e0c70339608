"""Printer columns of built-in kinds, as the API server's server-side Tables give them.

Taken from Kubernetes' own printers (pkg/printers/internalversion/printers.go): the same
column names, types, priorities (priority 1 appears with `-o wide`) and cell logic, e.g. a
Pod's STATUS (`Init:Error`, `CrashLoopBackOff`, the waiting reason), a Service's
EXTERNAL-IP and PORT(S), an Event's OBJECT as `kind/name`. As on the API server, every row
carries all cells (the server prints wide; kubectl drops priority-1 columns unless `-o wide`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority
Printer = tuple[list[Column], Callable[[Obj], list[Any]]]

NONE = "<none>"


def _since(timestamp: Any) -> str:
    from modelops.emulator.tables import age

    return age(timestamp) if timestamp else "<unknown>"


def _labels(selector: dict[str, Any] | None) -> str:
    """labels.FormatLabels / LabelSelectorAsSelector: `k=v,...` sorted, `<none>` when empty."""
    if not selector:
        return NONE
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _label_selector(selector: dict[str, Any] | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(sorted(expression.get("values") or []))
        operator = expression.get("operator")
        key = expression.get("key")
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": f"{key}", "DoesNotExist": f"!{key}"}.get(str(operator), f"{key}"))
    return ",".join(parts) if parts else NONE


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return (",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers))


# ---- pods -------------------------------------------------------------------------------

def pod_status_reason(pod: Obj) -> tuple[str, int, int, str | None]:
    """(STATUS, ready containers, restarts, last restart time) as printPod computes them."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    restarts, ready = 0, 0
    last_restart: str | None = None
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        restarts += int(container.get("restartCount", 0))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                reason = (f"Init:Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"Init:ExitCode:{terminated.get('exitCode')}")
            else:
                reason = f"Init:{terminated['reason']}"
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount", 0))
            last = (container.get("lastState") or {}).get("terminated") or {}
            if last.get("finishedAt") and (last_restart is None or last["finishedAt"] > last_restart):
                last_restart = str(last["finishedAt"])
            state = container.get("state") or {}
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting is not None and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode')}")
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_condition: Obj = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
            reason = "Running" if ready_condition.get("status") == "True" else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, restarts, last_restart


def _pod(pod: Obj) -> list[Any]:
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    reason, ready, restarts, last_restart = pod_status_reason(pod)
    restart_cell = f"{restarts} ({_since(last_restart)} ago)" if last_restart else str(restarts)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    gates = spec.get("readinessGates") or []
    if gates:
        true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        gates_cell = f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
    else:
        gates_cell = NONE
    return [f"{ready}/{len(spec.get('containers') or [])}", reason, restart_cell,
            _since((pod.get("metadata") or {}).get("creationTimestamp")),
            ips[0]["ip"] if ips else NONE, spec.get("nodeName") or NONE,
            status.get("nominatedNodeName") or NONE, gates_cell]


# ---- services ---------------------------------------------------------------------------

def _external_ip(service: Obj) -> str:
    spec, status = service.get("spec") or {}, service.get("status") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else NONE
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        found = [*[i for i in ingress if i], *external]
        return ",".join(found) if found else "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or NONE)
    return "<unknown>"


def _ports(service: Obj) -> str:
    ports = (service.get("spec") or {}).get("ports") or []
    if not ports:
        return NONE
    shown = []
    for port in ports:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        shown.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(shown)


def _service(service: Obj) -> list[Any]:
    spec = service.get("spec") or {}
    return [spec.get("type") or "ClusterIP", spec.get("clusterIP") or NONE, _external_ip(service), _ports(service),
            _since((service.get("metadata") or {}).get("creationTimestamp")), _labels(spec.get("selector"))]


# ---- workloads --------------------------------------------------------------------------

def _deployment(dep: Obj) -> list[Any]:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", int(status.get("updatedReplicas", 0)),
            int(status.get("availableReplicas", 0)), _since((dep.get("metadata") or {}).get("creationTimestamp")),
            names, images, _label_selector(spec.get("selector"))]


def _replicaset(rs: Obj) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [int(spec.get("replicas", 1)), int(status.get("replicas", 0)), int(status.get("readyReplicas", 0)),
            _since((rs.get("metadata") or {}).get("creationTimestamp")), names, images,
            _label_selector(spec.get("selector"))]


def _has(conditions: list[Obj], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def job_status(job: Obj) -> str:
    conditions = (job.get("status") or {}).get("conditions") or []
    if _has(conditions, "Complete"):
        return "Complete"
    if _has(conditions, "Failed"):
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has(conditions, kind):
            return kind
    return "Running"


def _parse(timestamp: Any) -> datetime.datetime | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _job(job: Obj) -> list[Any]:
    from modelops.emulator.tables import human_duration

    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded", 0))
    # The API server defaults completions and parallelism to 1 for a plain Job.
    completions, parallelism = spec.get("completions", 1), int(spec.get("parallelism", 1) or 0)
    if completions is not None:
        done = f"{succeeded}/{completions}"
    else:
        done = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    started, finished = _parse(status.get("startTime")), _parse(status.get("completionTime"))
    duration = ""
    if started is not None:
        end = finished or datetime.datetime.now(datetime.UTC)
        duration = human_duration((end - started).total_seconds())
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [job_status(job), done, duration, _since((job.get("metadata") or {}).get("creationTimestamp")),
            names, images, _label_selector(spec.get("selector"))]


# ---- events -----------------------------------------------------------------------------

def _source(event: Obj) -> str:
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _event(event: Obj) -> list[Any]:
    first = _since(event.get("firstTimestamp")) if event.get("firstTimestamp") else _since(event.get("eventTime"))
    last = _since(event.get("lastTimestamp")) if event.get("lastTimestamp") else first
    count = int(event.get("count") or 1)
    series = event.get("series")
    if series:
        last, count = _since(series.get("lastObservedTime")), int(series.get("count", count))
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
            _source(event), str(event.get("message", "")).strip(), first, count,
            (event.get("metadata") or {}).get("name")]


# ---- nodes ------------------------------------------------------------------------------

def _node(node: Obj) -> list[Any]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(str((ready or {}).get("status")), "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(key.split("/", 1)[1] for key in (node.get("metadata") or {}).get("labels") or {}
                   if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1])
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []
    internal = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), NONE)
    external = next((a["address"] for a in addresses if a.get("type") == "ExternalIP"), NONE)
    return [state, ",".join(roles) or NONE, _since((node.get("metadata") or {}).get("creationTimestamp")),
            info.get("kubeletVersion", ""), internal, external, info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


_NAME: Column = ("Name", "string", 0)
_AGE: Column = ("Age", "string", 0)
_WORKLOAD: list[Column] = [("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)]


def _named(row: Callable[[Obj], list[Any]]) -> Callable[[Obj], list[Any]]:
    return lambda obj: [(obj.get("metadata") or {}).get("name"), *row(obj)]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): ([_NAME, ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), _AGE,
                    ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
                    ("Readiness Gates", "string", 1)], _named(_pod)),
    ("", "services"): ([_NAME, ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                        ("Port(s)", "string", 0), _AGE, ("Selector", "string", 1)], _named(_service)),
    ("apps", "deployments"): ([_NAME, ("Ready", "string", 0), ("Up-to-date", "integer", 0),
                               ("Available", "integer", 0), _AGE, *_WORKLOAD], _named(_deployment)),
    ("apps", "replicasets"): ([_NAME, ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
                               _AGE, *_WORKLOAD], _named(_replicaset)),
    ("batch", "jobs"): ([_NAME, ("Status", "string", 0), ("Completions", "string", 0), ("Duration", "string", 0),
                         _AGE, *_WORKLOAD], _named(_job)),
    ("", "nodes"): ([_NAME, ("Status", "string", 0), ("Roles", "string", 0), _AGE, ("Version", "string", 0),
                     ("Internal-IP", "string", 1), ("External-IP", "string", 1), ("OS-Image", "string", 1),
                     ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)], _named(_node)),
    ("", "events"): ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                      ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
                      ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "integer", 1),
                      ("Name", "string", 1)], _event),
}

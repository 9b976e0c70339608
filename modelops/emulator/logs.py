"""The `pods/log` subresource, served from the files the sandbox's processes write.

A real API server proxies `GET .../pods/NAME/log` to the kubelet of the pod's node; here the
sandbox kubelet writes each container's output to ``<root>/<namespace>/<pod>/<container>.log``
and the emulator, told that root (``--pod-logs``), reads it. Query options as kubectl sends
them: ``container`` (defaulted when the pod has one container), ``tailLines``,
``limitBytes``, ``follow`` (stream until the container ends or the pod is gone), ``previous``
(the instance before the last restart; 400 as on a cluster when there is none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelops.emulator import errors


def container_of(pod: dict[str, Any], requested: str) -> str:
    """The container whose log is asked for, as the API server validates it."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [str(c.get("name")) for c in spec.get("containers") or []]
    inits = [str(c.get("name")) for c in spec.get("initContainers") or []]
    if not requested:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        raise errors.bad_request(message)
    if requested not in (*containers, *inits):
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def log_file(root: Path, namespace: str, pod: str, container: str) -> Path:
    """The file of one container's output; names are API object names, so no path tricks."""
    for part in (namespace, pod, container):
        if not part or "/" in part or part in (".", ".."):
            raise errors.bad_request(f"invalid name {part!r} in a log request")
    return root / namespace / pod / f"{container}.log"


def previous_log_file(root: Path, namespace: str, pod: str, container: str) -> Path:
    """The output of the container's previous instance (kept by the sandbox when it restarts it)."""
    return log_file(root, namespace, pod, container).with_suffix(".previous.log")


def tail(data: bytes, lines: int | None) -> bytes:
    """The last `lines` lines (all when None), as `kubectl logs --tail` shows them."""
    if lines is None or lines < 0:
        return data
    if lines == 0:
        return b""
    kept = data.splitlines(keepends=True)[-lines:]
    return b"".join(kept)


def container_ended(pod: dict[str, Any], container: str) -> bool:
    status = pod.get("status") or {}
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    for status in statuses:
        if status.get("name") == container:
            return "terminated" in (status.get("state") or {})
    return False

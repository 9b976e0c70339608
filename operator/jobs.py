"""The batch/v1 Job that runs one ``modelops`` command for the operator (validation, retraining). Pure.

Both Jobs run the serving image's own entrypoint and share one hardened pod: no
service-account token (they need no Kubernetes API rights), ``restartPolicy: Never`` (the
Job's ``backoffLimit`` decides retries), non-root with a read-only root filesystem and no
capabilities, the RuntimeDefault seccomp profile, an ``emptyDir`` on ``/tmp`` (the one
writable place), and the result written to the termination log, where the operator reads it
from the pod's status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

TERMINATION_LOG = "/dev/termination-log"
# File: only what the command wrote there; FallbackToLogsOnError: the log's end if it wrote nothing.
TerminationPolicy = Literal["File", "FallbackToLogsOnError"]



def container_security() -> dict[str, Any]:
    """A fresh copy each time: a manifest is a value its caller may change."""
    return {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}}


def job_manifest(
    metadata: Mapping[str, Any],
    *,
    container: str,
    image: str,
    args: Sequence[str],
    backoff_limit: int,
    termination_policy: TerminationPolicy = "File",
    active_deadline_s: int | None = None,
) -> dict[str, Any]:
    """The Job of ``modelops <args>`` in ``image``; its pods carry ``metadata``'s labels."""
    spec: dict[str, Any] = {"backoffLimit": backoff_limit}
    if active_deadline_s is not None:
        spec["activeDeadlineSeconds"] = active_deadline_s
    spec["template"] = {
        "metadata": {"labels": dict(metadata.get("labels") or {})},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": container,
                "image": image,
                "command": ["modelops"],
                "args": list(args),
                "securityContext": container_security(),
                "terminationMessagePath": TERMINATION_LOG,
                "terminationMessagePolicy": termination_policy,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": dict(metadata), "spec": spec}

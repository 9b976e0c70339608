"""Raw API objects for the operator's tests, built the way the API server returns them."""

from __future__ import annotations

from typing import Any

SHA_A = "a" * 64
SHA_B = "b" * 64
NS = "default"
UID = "uid-churn"


def condition(type_: str, status: str, reason: str, generation: int = 1, message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": "2026-11-27T10:00:00Z"}


def model_version(
    name: str, *, model: str = "churn", sha: str = SHA_A, ready: bool | None = True,
    created: str = "2026-11-27T10:00:00Z", fmt: str = "skops", trusted: bool = False, generation: int = 1,
    status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None,
    validation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": model, "artifact": {"uri": f"file:///artifacts/{name}", "sha256": sha,
                                                        "format": fmt, "trusted": trusted}}
    if validation is not None:
        spec["validation"] = validation
    if status is None:
        status = {}
        if ready is not None:
            status = {"observedGeneration": generation, "conditions": [
                condition("Ready", "True" if ready else "False", "Verified" if ready else "DigestMismatch",
                          generation, "" if ready else "manifest digest differs")]}
    return {
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "generation": generation,
                     "creationTimestamp": created, "annotations": annotations or {}},
        "spec": spec, "status": status,
    }


def model_deployment(
    *, version: str | None = "churn-v1", status: dict[str, Any] | None = None, generation: int = 1,
    annotations: dict[str, str] | None = None, **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "churn", "replicas": 2, **spec}
    if version is not None:
        body["version"] = version
    return {
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "churn", "namespace": NS, "uid": UID, "generation": generation,
                     "annotations": annotations or {}},
        "spec": body, "status": status or {},
    }


def _owner(uid: str) -> dict[str, Any]:
    return {"apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment", "name": "churn", "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def deployment(name: str, version: str, *, replicas: int = 2, available: int = 0, owner: str = UID) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "generation": 1, "uid": f"uid-deployment-{name}",
                     "labels": {"app.kubernetes.io/instance": "churn", "modelops.dev/version": version,
                                "app.kubernetes.io/managed-by": "modelops"},
                     "ownerReferences": [_owner(owner)]},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 1, "availableReplicas": available},
    }


def service(name: str, version: str, owner: str = UID) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-service-{name}",
                     "labels": {"app.kubernetes.io/instance": "churn", "modelops.dev/version": version},
                     "ownerReferences": [_owner(owner)]},
        "spec": {"selector": {"app.kubernetes.io/instance": "churn", "modelops.dev/version": version}},
    }

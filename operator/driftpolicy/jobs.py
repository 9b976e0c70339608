"""The objects a retrain makes: its batch/v1 Job and, when the gate passed, the ModelVersion. Pure.

The Job is owned by the DriftPolicy (deleted with it) and needs no Kubernetes API rights
(``automountServiceAccountToken: false``): the trainer writes its result to the termination
log. The built-in trainer runs in the serving image (the operator's ``--image``, as the
serving Deployments do) with ``trainer_args``; ``--created-at`` is the drift evaluation's
time, so the same Job always builds the same artifact bytes. A ``jobTemplate`` is the
user's Job spec; only the name, labels and owner are ours.

The ModelVersion is owned by nobody: a version outlives the policy that made it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelops import GROUP, VERSION
from modelops.api.driftpolicy import DriftPolicySpec
from modelops.operator.driftpolicy.decide import JobRequest, VersionRequest
from modelops.operator.jobs import job_manifest
from modelops.training.invocation import TrainerInvocation, trainer_args

API_VERSION = f"{GROUP}/{VERSION}"
POLICY_LABEL = "modelops.dev/drift-policy"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "modelops"
TRAINER_NAME = "modelops-trainer"


@dataclass(frozen=True)
class Champion:
    """The stable version: the champion of the gate and the parent in lineage."""

    name: str
    model: str
    uri: str
    sha256: str
    trusted: bool = False
    allow_version_skew: bool = False
    validation: Mapping[str, Any] | None = None  # its spec.validation, inherited by the retrained version


def owner_reference(policy: Mapping[str, Any]) -> dict[str, Any]:
    meta = policy["metadata"]
    return {"apiVersion": API_VERSION, "kind": "DriftPolicy", "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def job_labels(policy: str, model: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": TRAINER_NAME, MANAGED_BY_LABEL: MANAGER, POLICY_LABEL: policy,
            "modelops.dev/model": model}


def retrain_job(policy: Mapping[str, Any], spec: DriftPolicySpec, request: JobRequest, champion: Champion,
                image: str) -> dict[str, Any]:
    """The retraining Job for ``request``."""
    meta = policy["metadata"]
    retrain = spec.retrain
    if retrain is None:
        raise ValueError("spec.retrain is not set")
    labels = job_labels(str(meta["name"]), champion.model)
    metadata = {"name": request.name, "namespace": meta["namespace"], "labels": labels,
                "ownerReferences": [owner_reference(policy)]}
    if retrain.job_template is not None:
        template = copy.deepcopy(dict(retrain.job_template))
        job_spec = dict(template.get("spec") or {})
        pod_template = dict(job_spec.get("template") or {})
        pod_meta = dict(pod_template.get("metadata") or {})
        pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
        pod_spec = dict(pod_template.get("spec") or {})
        pod_spec.setdefault("restartPolicy", "Never")
        pod_spec.setdefault("automountServiceAccountToken", False)
        job_spec["template"] = {**pod_template, "metadata": pod_meta, "spec": pod_spec}
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}
    trainer = retrain.trainer
    if trainer is None:
        raise ValueError("spec.retrain needs trainer or jobTemplate")
    args = trainer_args(TrainerInvocation(
        dataset_uri=trainer.dataset_uri, target=trainer.target, estimator=trainer.estimator,
        output_uri=trainer.output_uri, name=request.version_name, params=trainer.params,
        gate_metric=retrain.gate.metric, min_improvement=retrain.gate.min_improvement,
        champion_uri=champion.uri, champion_sha256=champion.sha256, champion_trusted=champion.trusted,
        allow_version_skew=champion.allow_version_skew, parent=champion.name, job=request.name,
        drift_policy=str(meta["name"]), drift_evaluation=request.drift_evaluation, created_at=request.created_at,
    ))
    # a failed training is reported, not retried in a loop: backoffLimit 0
    return job_manifest(metadata, container="trainer", image=image, args=args, backoff_limit=0)


def model_version(namespace: str, request: VersionRequest, model: str,
                  validation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ModelVersion of a retrain whose gate passed; no owner, lineage in spec.

    It declares its parent's ``spec.validation``: the gate only compared the challenger with
    the champion on one metric, and a version made by a machine must pass the same metric and
    fairness limits a person's version had to pass before ``promotion: Auto`` rolls it out.
    """
    spec: dict[str, Any] = {"model": model,
                            "artifact": {"uri": request.artifact_uri, "sha256": request.artifact_sha256},
                            "lineage": dict(request.lineage)}
    if validation:
        spec["validation"] = copy.deepcopy(dict(validation))
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "metadata": {"name": request.name, "namespace": namespace,
                     "labels": {MANAGED_BY_LABEL: MANAGER, "modelops.dev/model": model}},
        "spec": spec,
    }

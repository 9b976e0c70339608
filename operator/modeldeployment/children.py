"""The children of a ModelDeployment, as pure functions of its spec and one ModelVersion.

Per version ``V`` of deployment ``D``: a Deployment (init container ``modelops fetch``
verifying every file of the artifact into an emptyDir, then ``modelops serve``) and a
Service, both named ``child_name(D, V)``; plus Service ``D`` selecting the stable version.
Names are deterministic, so a reconcile that runs twice (a restart, a retried request)
finds what the first one made instead of making a second one; every child carries a
controller owner reference, so deleting the ModelDeployment deletes them (and an object of
the same name without that reference is someone else's: see ``kube.ensure``).

Child names (``child_name``) must be DNS-1035 labels (Service names), at most 63
characters, and must not collide across the ModelDeployments of a namespace:

- ``D-V``, readable, when ``D`` has no ``-``, ``V`` starts with ``D-`` (the usual
  ``churn`` / ``churn-v1`` convention) and the result fits in 63 characters. With no
  ``-`` in ``D``, the first ``-`` of the name says where ``D`` ends, so two such names
  never collide; and a main Service ``D'`` could only be one of them if a ModelDeployment
  were named ``churn-churn-v1``.
- otherwise ``D-V`` cut to 54 characters, then ``-`` and the first 8 hex digits of
  sha256(``D/V``) (``/`` cannot occur in either name, so the hashed pair is unambiguous).
  ModelDeployment ``a`` with version ``b-c`` and ``a-b`` with version ``c`` no longer
  both want ``a-b-c``: they get ``a-b-c-<hash of a/b-c>`` and ``a-b-c-<hash of a-b/c>``.

A name that still meets someone else's object (by chance or on purpose) is a
``NameConflict``, never a takeover.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from modelops import API_VERSION
from modelops.api.modeldeployment import ModelDeploymentSpec

SERVING_PORT = 8080
# serving's feedback_ids.KEY_ENV (operator and serving import nothing of each other; a test ties them)
FEEDBACK_KEY_ENV = "MODELOPS_FEEDBACK_KEY"
MODEL_DIR = "/models"
# Service names are DNS-1035 labels: at most 63 characters.
MAX_NAME = 63
HASH_DIGITS = 8
# On termination the pod is removed from the Service's endpoints while the kubelet runs the
# preStop hook; uvicorn closes its listening socket on SIGTERM, which comes after the hook.
# Sleeping first keeps accepting connections until kube-proxies and gateways have seen the
# endpoint go. Then the server drains in-flight requests for up to DRAIN_TIMEOUT_S, and the
# grace period covers both with a margin, so SIGKILL never cuts a drain short.
PRE_STOP_DELAY_S = 5
DRAIN_TIMEOUT_S = 30
TERMINATION_GRACE_PERIOD_S = PRE_STOP_DELAY_S + DRAIN_TIMEOUT_S + 5
# An exec hook running the image's own Python (the image has no guarantee of a `sleep`
# binary); the `sleep` lifecycle handler would need Kubernetes 1.30+ (GA in 1.32).
PRE_STOP_COMMAND = ["python", "-c", f"import time; time.sleep({PRE_STOP_DELAY_S})"]

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MODEL_LABEL = "modelops.dev/model"
VERSION_LABEL = "modelops.dev/version"
SHA256_ANNOTATION = "modelops.dev/artifact-sha256"
SERVING_NAME = "modelops-serving"
MANAGER = "modelops"


@dataclass(frozen=True)
class Owner:
    """The ModelDeployment that owns the children."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "ModelDeployment",
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class ServedVersion:
    """What a serving pod needs to know about one ModelVersion."""

    name: str
    uri: str
    sha256: str
    format: str = "skops"
    trusted: bool = False
    allow_version_skew: bool = False
    uid: str = ""  # the ModelVersion's, to tell a re-created version from the verified one


_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def child_name(deployment: str, version: str) -> str:
    """The name of version ``version``'s Deployment and Service (the rule is in the module doc)."""
    readable = f"{deployment}-{version}"
    if (
        "-" not in deployment
        and version.startswith(f"{deployment}-")
        and len(readable) <= MAX_NAME
        and _LABEL.fullmatch(version)
    ):
        return readable
    digest = hashlib.sha256(f"{deployment}/{version}".encode()).hexdigest()[:HASH_DIGITS]
    prefix = re.sub(r"[^a-z0-9-]", "-", readable)[: MAX_NAME - HASH_DIGITS - 1].rstrip("-")
    return f"{prefix}-{digest}"


def child_names(deployment: str, version: str) -> tuple[tuple[str, str], ...]:
    """(kind, name) of one version's children."""
    name = child_name(deployment, version)
    return (("Deployment", name), ("Service", name))


def selector_labels(deployment: str, version: str) -> dict[str, str]:
    return {INSTANCE_LABEL: deployment, VERSION_LABEL: version}


def labels(deployment: str, model: str, version: str) -> dict[str, str]:
    return {
        NAME_LABEL: SERVING_NAME,
        INSTANCE_LABEL: deployment,
        MANAGED_BY_LABEL: MANAGER,
        MODEL_LABEL: model,
        VERSION_LABEL: version,
    }


def owned_selector(deployment: str) -> str:
    """The label selector that lists every child of one ModelDeployment."""
    return f"{INSTANCE_LABEL}={deployment},{MANAGED_BY_LABEL}={MANAGER}"


def endpoint(owner: Owner, model: str) -> str:
    return f"http://{owner.name}.{owner.namespace}.svc:{SERVING_PORT}/v2/models/{model}"


def _metadata(owner: Owner, name: str, child_labels: dict[str, str], **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(child_labels),
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


_CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


@dataclass(frozen=True)
class Mirror:
    """Shadow: the stable pods send ``percent`` of their infer requests on to ``version``
    at ``url`` (``modelops serve --shadow-url/--shadow-percent/--shadow-version``)."""

    url: str
    percent: int
    version: str

    def args(self) -> list[str]:
        return ["--shadow-url", self.url, "--shadow-percent", str(self.percent), "--shadow-version", self.version]


def pods_mirror(spec: ModelDeploymentSpec) -> bool:
    """Whether the stable pods mirror Shadow traffic themselves (router Replicas); under
    router GatewayAPI the HTTPRoute's RequestMirror filter does, and the pods get no flags."""
    return spec.router == "Replicas"


def version_url(owner: Owner, version: str) -> str:
    """Service ``D-V``'s in-cluster base URL (``version_service``): one version's pods, whichever
    of them are ready now, behind a name known before any of them exists."""
    return f"http://{child_name(owner.name, version)}.{owner.namespace}.svc:{SERVING_PORT}"


def shadow_mirror(owner: Owner, spec: ModelDeploymentSpec, candidate: str, percent: int) -> Mirror | None:
    """The mirror flags of the stable pods while ``candidate`` is shadowed (None: not theirs to do)."""
    return Mirror(version_url(owner, candidate), percent, candidate) if pods_mirror(spec) else None


def serve_args(spec: ModelDeploymentSpec, version: ServedVersion, mirror: Mirror | None = None) -> list[str]:
    args = [
        "serve",
        "--model-dir", MODEL_DIR,
        "--port", str(SERVING_PORT),
        "--model-name", spec.model,
        "--model-version", version.name,
        "--expected-sha256", version.sha256,
        "--max-batch-size", str(spec.serving.max_batch_size),
        "--max-batch-latency-ms", f"{spec.serving.max_batch_latency_ms:g}",
        "--max-concurrency", str(spec.serving.max_concurrency),
        "--graceful-timeout", str(DRAIN_TIMEOUT_S),
    ]  # fmt: skip
    if version.trusted:
        args.append("--trusted")
    if version.allow_version_skew:
        args.append("--allow-version-skew")
    if mirror is not None:
        args.extend(mirror.args())
    return args


def _resources(spec: ModelDeploymentSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.resources.requests:
        out["requests"] = {k: str(v) for k, v in spec.resources.requests.items()}
    if spec.resources.limits:
        out["limits"] = {k: str(v) for k, v in spec.resources.limits.items()}
    return out


def feedback_key(owner: Owner) -> str:
    """The key serving pods sign feedback ids with: one per ModelDeployment (its uid), the same
    for all its versions. It keeps clients that cannot read the cluster from forging ids (and
    so from making a pod forward feedback to an address of their choosing); anyone who can read
    the Deployment can read it, as they could read a Secret mounted from the same namespace."""
    return hashlib.sha256(f"modelops.dev/feedback/{owner.namespace}/{owner.name}/{owner.uid}".encode()).hexdigest()


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def deployment(
    owner: Owner, spec: ModelDeploymentSpec, version: ServedVersion, image: str, replicas: int | None = None,
    *, mirror: Mirror | None = None,
) -> dict[str, Any]:
    """The apps/v1 Deployment serving one version (``replicas``: a canary's share, 0 for a
    rolled-back candidate; ``spec.replicas`` by default; ``mirror``: a shadowing stable's flags)."""
    name = child_name(owner.name, version.name)
    child_labels = labels(owner.name, spec.model, version.name)
    volume_mounts_fetch = [{"name": "models", "mountPath": MODEL_DIR}, {"name": "tmp", "mountPath": "/tmp"}]
    volume_mounts_serve = [
        {"name": "models", "mountPath": MODEL_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    serve: dict[str, Any] = {
        "name": "serve",
        "image": image,
        "command": ["modelops"],
        "args": serve_args(spec, version, mirror),
        "ports": [{"name": "http", "containerPort": SERVING_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/v2/health/ready", period=5, failures=3),
        "livenessProbe": _probe("/v2/health/live", period=10, failures=6),
        "securityContext": dict(_CONTAINER_SECURITY),
        "volumeMounts": volume_mounts_serve,
        "lifecycle": {"preStop": {"exec": {"command": list(PRE_STOP_COMMAND)}}},
        "env": [
            # Feedback ids name the pod that holds the prediction (its IP) and carry a MAC under
            # a key every pod of every version of this deployment shares, so feedback posted to
            # any replica is forwarded to the right one and forged ids are refused.
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": FEEDBACK_KEY_ENV, "value": feedback_key(owner)},
        ],
    }
    fetch: dict[str, Any] = {
        "name": "fetch",
        "image": image,
        "command": ["modelops"],
        "args": ["fetch", "--uri", version.uri, "--sha256", version.sha256, "--dest", MODEL_DIR],
        "securityContext": dict(_CONTAINER_SECURITY),
        "volumeMounts": volume_mounts_fetch,
    }
    resources = _resources(spec)
    if resources:
        serve["resources"] = resources
        fetch["resources"] = resources
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(owner, name, child_labels, **{SHA256_ANNOTATION: version.sha256}),
        "spec": {
            "replicas": spec.replicas if replicas is None else replicas,
            "selector": {"matchLabels": selector_labels(owner.name, version.name)},
            "template": {
                "metadata": {"labels": dict(child_labels), "annotations": {SHA256_ANNOTATION: version.sha256}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_PERIOD_S,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": [fetch],
                    "containers": [serve],
                    "volumes": [{"name": "models", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _service(owner: Owner, name: str, child_labels: dict[str, str], selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(owner, name, child_labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": SERVING_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def version_service(owner: Owner, model: str, version: str) -> dict[str, Any]:
    """Service ``D-V``: one version's pods, for analysis, direct testing and Shadow's mirror
    (``version_url``)."""
    return _service(
        owner, child_name(owner.name, version), labels(owner.name, model, version), selector_labels(owner.name, version)
    )


def main_service(owner: Owner, model: str, stable: str, *, both: bool = False) -> dict[str, Any]:
    """Service ``D``: what clients call; it selects the stable version's pods, or with
    ``both`` (a canary under the Replicas router) every serving pod of the deployment."""
    service_labels = labels(owner.name, model, stable)
    selector = {INSTANCE_LABEL: owner.name} if both else selector_labels(owner.name, stable)
    return _service(owner, owner.name, service_labels, selector)

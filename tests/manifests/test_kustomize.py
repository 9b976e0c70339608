"""`kubectl apply -k manifests/default` installs exactly what the operator needs, locked down."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops import API_VERSION, GROUP
from modelops.api.resources import KINDS
from tests.manifests.kustomize import MANIFESTS, ROOT, by_kind, kustomize, one

CRDS = ROOT / "crds"
NAMESPACE = "modelops-system"


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return kustomize(MANIFESTS / "default")


@pytest.fixture(scope="module")
def examples() -> list[dict[str, Any]]:
    return kustomize(MANIFESTS / "examples")


def _container(default: list[dict[str, Any]]) -> dict[str, Any]:
    [container] = one(default, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_every_base_renders_on_its_own() -> None:
    for base in ("crds", "rbac", "operator"):
        assert kustomize(MANIFESTS / base), f"manifests/{base} rendered nothing"


def test_default_holds_crds_rbac_and_the_operator(default: list[dict[str, Any]]) -> None:
    rendered = sorted((obj["kind"], obj["metadata"]["name"]) for obj in default)
    assert rendered == sorted(
        [
            ("Namespace", NAMESPACE),
            *(("CustomResourceDefinition", kind.crd_name) for kind in KINDS),
            ("ServiceAccount", "modelops-operator"),
            ("ClusterRole", "modelops-operator"),
            ("ClusterRoleBinding", "modelops-operator"),
            ("Role", "modelops-operator-leader-election"),
            ("RoleBinding", "modelops-operator-leader-election"),
            ("Deployment", "modelops-operator"),
            ("PodDisruptionBudget", "modelops-operator"),
            ("Service", "modelops-operator-metrics"),
        ]
    )
    for obj in default:
        if obj["kind"] in ("ServiceAccount", "Deployment", "Service", "Role", "RoleBinding", "PodDisruptionBudget"):
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["kind"]


def test_crds_come_from_crds_folder_unchanged(default: list[dict[str, Any]]) -> None:
    generated = sorted(p.name for p in CRDS.glob("*.yaml"))
    listed = yaml.safe_load((CRDS / "Kustomization").read_text())["resources"]
    assert sorted(listed) == generated, "crds/Kustomization must list every crds/*.yaml"
    committed = [yaml.safe_load(p.read_text()) for p in CRDS.glob("*.yaml")]
    committed_by_name = {crd["metadata"]["name"]: crd for crd in committed}
    rendered = {crd["metadata"]["name"]: crd for crd in by_kind(default, "CustomResourceDefinition")}
    assert rendered == committed_by_name


# apiextensions.k8s.io/v1 JSONSchemaProps is OpenAPI 3.0: an API server rejects a CRD whose schema
# uses JSON Schema 2020 spellings (e.g. a number for exclusiveMaximum), and kubectl cannot
# validate against it. The field types, from k8s.io/apiextensions-apiserver's JSONSchemaProps:
_SCHEMA_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "format": str,
    "description": str,
    "pattern": str,
    "exclusiveMaximum": bool,
    "exclusiveMinimum": bool,
    "maximum": (int, float),
    "minimum": (int, float),
    "multipleOf": (int, float),
    "maxLength": int,
    "minLength": int,
    "maxItems": int,
    "minItems": int,
    "maxProperties": int,
    "minProperties": int,
    "uniqueItems": bool,
    "nullable": bool,
    "required": list,
    "enum": list,
    "x-kubernetes-preserve-unknown-fields": bool,
    "x-kubernetes-int-or-string": bool,
    "x-kubernetes-embedded-resource": bool,
    "x-kubernetes-list-type": str,
    "x-kubernetes-map-type": str,
    "x-kubernetes-validations": list,
}


def _schema_type_errors(node: dict[str, Any], path: str) -> list[str]:
    errors = []
    for key, expected in _SCHEMA_FIELD_TYPES.items():
        value = node.get(key)
        allowed = expected if isinstance(expected, tuple) else (expected,)
        # bool is an int in Python; in the schema it is not a number and a number is not a bool.
        if key in node and (not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool))):
            errors.append(f"{path}.{key}: {value!r} must be {' or '.join(t.__name__ for t in allowed)}")
    for key, sub in node.get("properties", {}).items():
        errors += _schema_type_errors(sub, f"{path}.properties.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            errors += _schema_type_errors(node[key], f"{path}.{key}")
    return errors


def test_crd_schemas_use_the_field_types_the_api_server_accepts(default: list[dict[str, Any]]) -> None:
    errors = []
    for crd in by_kind(default, "CustomResourceDefinition"):
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            errors += _schema_type_errors(schema, f"{crd['metadata']['name']}/{version['name']}")
    assert errors == []


def _rules(default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = one(default, "ClusterRole")["rules"]
    return rules


def _allowed(rules: list[dict[str, Any]], group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs |= set(rule["verbs"])
    return verbs


def test_rbac_has_no_wildcards_or_escalation(default: list[dict[str, Any]]) -> None:
    for rule in _rules(default):
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {field}: {rule}"
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
        assert "nonResourceURLs" not in rule, rule
    # Secrets and ConfigMaps hold other people's credentials; the operator never reads them.
    for secretive in ("secrets", "configmaps"):
        assert _allowed(_rules(default), "", secretive) == set()
    # Standalone kopf: no peering objects, so no kopf.dev rights.
    assert all("kopf.dev" not in rule["apiGroups"] for rule in _rules(default))


def test_rbac_covers_the_operators_own_kinds_and_children(default: list[dict[str, Any]]) -> None:
    # The exact grants, each one used and none missing, are proven by tests/manifests/test_rbac.py
    # from the operator's recorded requests; this checks the rendered install's lasting shape.
    rules = _rules(default)
    for plural in ("modelversions", "modeldeployments"):
        assert {"get", "list", "watch", "patch"} <= _allowed(rules, GROUP, plural), plural
        assert "patch" in _allowed(rules, GROUP, f"{plural}/status"), plural
    # Children block their owner's deletion: OwnerReferencesPermissionEnforcement wants this.
    assert _allowed(rules, GROUP, "modeldeployments/finalizers") == {"update"}
    lifecycle = {"get", "list", "watch", "create", "patch", "delete"}
    assert _allowed(rules, "apps", "deployments") == lifecycle
    assert _allowed(rules, "", "services") == lifecycle
    assert "create" in _allowed(rules, "", "events")
    # The operator never deletes what users declared, and never writes pods.
    assert all(not ({"delete", "deletecollection"} & _allowed(rules, GROUP, kind.plural)) for kind in KINDS)
    assert not {"create", "update", "patch", "delete"} & _allowed(rules, "", "pods")


def test_binding_grants_the_role_to_the_operators_service_account(default: list[dict[str, Any]]) -> None:
    binding = one(default, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": one(default, "ClusterRole")["metadata"]["name"],
    }
    account = one(default, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    pod = one(default, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]


def test_operator_pod_is_locked_down(default: list[dict[str, Any]]) -> None:
    deployment = one(default, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & {key for key, value in pod.items() if value}
    container = _container(default)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security.get("privileged", False) is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    # A read-only root needs somewhere to write scratch files.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])


def test_two_replicas_elect_one_leader(default: list[dict[str, Any]]) -> None:
    spec = one(default, "Deployment")["spec"]
    assert spec["replicas"] == 2
    assert "--leader-elect" in _container(default)["args"]
    # A rolling update adds the new pod (a standby, Ready) before it removes an old one.
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    env = {e["name"]: e for e in _container(default)["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_replicas_spread_across_nodes_and_a_drain_keeps_one(default: list[dict[str, Any]]) -> None:
    template = one(default, "Deployment")["spec"]["template"]
    labels = template["metadata"]["labels"]
    [spread] = template["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["maxSkew"] == 1
    assert spread["labelSelector"]["matchLabels"].items() <= labels.items()
    budget = one(default, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= labels.items()


def test_leases_are_granted_only_in_the_operators_namespace(default: list[dict[str, Any]]) -> None:
    assert _allowed(_rules(default), "coordination.k8s.io", "leases") == set()
    role = one(default, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]
    binding = one(default, "RoleBinding")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    account = one(default, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}]


def test_operator_probes_and_metrics_ports(default: list[dict[str, Any]]) -> None:
    container = _container(default)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    # Liveness is kopf's /healthz (live on a standby too); readiness is /readyz (who leads).
    liveness, readiness = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert (liveness["path"], ports[liveness["port"]]) == ("/healthz", 8081)
    assert (readiness["path"], ports[readiness["port"]]) == ("/readyz", 8082)
    assert ports["metrics"] == 9090
    service = one(default, "Service")
    pod_labels = one(default, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (9090, "metrics")


def test_operator_image_is_this_release(default: list[dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    container = _container(default)
    assert container["image"] == f"ghcr.io/modelops/modelops:{version}"
    # Serving pods and Jobs run the operator's own image.
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELOPS_IMAGE"] == container["image"]


OVERLAY = """\
resources: [{base}]
images: [{{name: ghcr.io/modelops/modelops, newName: registry.example.com/modelops, newTag: dev}}]
replacements:
- source:
    kind: Deployment
    name: modelops-operator
    fieldPath: spec.template.spec.containers.[name=operator].image
  targets:
  - select: {{kind: Deployment, name: modelops-operator}}
    fieldPaths:
    - spec.template.spec.containers.[name=operator].env.[name=MODELOPS_IMAGE].value
"""


def test_an_overlay_moves_operator_and_serving_image_together(tmp_path: Path) -> None:
    # The overlay of README's "Install on a real cluster".
    readme = (ROOT / "README.md").read_text()
    assert OVERLAY.format(base="../modelops/manifests/default") in readme
    # kustomize takes only relative paths to bases; any folder, inside the overlay's root or not.
    base = os.path.relpath(MANIFESTS / "default", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(OVERLAY.format(base=base))
    container = _container(kustomize(tmp_path))
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == env["MODELOPS_IMAGE"] == "registry.example.com/modelops:dev"


def test_rbac_covers_every_resource_the_operators_client_addresses(default: list[dict[str, Any]]) -> None:
    from modelops.operator import kube

    rules = _rules(default)
    for resource in vars(kube).values():
        if isinstance(resource, kube.Resource):
            assert _allowed(rules, resource.group, resource.plural), f"no RBAC rule for {resource}"


def test_examples_are_our_kinds_and_valid_against_the_models(examples: list[dict[str, Any]]) -> None:
    models = {kind.kind: kind.spec for kind in KINDS}
    assert sorted(obj["kind"] for obj in examples) == sorted(models)
    for obj in examples:
        assert obj["apiVersion"] == API_VERSION
        models[obj["kind"]].model_validate(obj["spec"])


def test_examples_refer_to_each_other(examples: list[dict[str, Any]]) -> None:
    version = one(examples, "ModelVersion")
    deployment = one(examples, "ModelDeployment")
    policy = one(examples, "DriftPolicy")
    assert deployment["spec"]["model"] == version["spec"]["model"]
    # promotion Auto serves the newest Ready version of the model; Manual names it
    if deployment["spec"].get("promotion") == "Auto":
        assert "version" not in deployment["spec"]
    else:
        assert deployment["spec"]["version"] == version["metadata"]["name"]
    assert policy["spec"]["targetRef"]["name"] == deployment["metadata"]["name"]


def test_examples_are_files_of_the_examples_kustomization() -> None:
    folder = MANIFESTS / "examples"
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    on_disk = [p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"]
    assert sorted(listed) == sorted(on_disk)


def test_no_copies_of_the_generated_crds_under_manifests() -> None:
    # The CRDs live once, in crds/; a copy under manifests/ would go stale silently.
    stray = [
        str(path.relative_to(ROOT))
        for path in MANIFESTS.rglob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]
    assert stray == []

"""The serving Deployment and Services of a version: names, labels, owner, pod security, args."""

from __future__ import annotations

from typing import Any

from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.operator.modeldeployment import children
from modelops.operator.modeldeployment.children import Owner, ServedVersion

OWNER = Owner("churn", "prod", "uid-1")
SPEC = ModelDeploymentSpec.model_validate({
    "model": "churn", "version": "churn-v2", "replicas": 3,
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    "serving": {"maxBatchSize": 16, "maxBatchLatencyMs": 2.5, "maxConcurrency": 64},
})
V2 = ServedVersion("churn-v2", "s3://models/churn/v2/", "c" * 64)


def _deployment(version: ServedVersion = V2) -> dict[str, Any]:
    return children.deployment(OWNER, SPEC, version, "registry/modelops:1")


def test_children_are_named_deployment_dash_version_and_owned_by_the_model_deployment() -> None:
    dep = _deployment()
    assert dep["metadata"]["name"] == "churn-churn-v2"
    assert dep["metadata"]["namespace"] == "prod"
    assert dep["metadata"]["ownerReferences"] == [{
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment", "name": "churn", "uid": "uid-1",
        "controller": True, "blockOwnerDeletion": True,
    }]
    assert children.version_service(OWNER, "churn", "churn-v2")["metadata"]["name"] == "churn-churn-v2"
    assert children.main_service(OWNER, "churn", "churn-v2")["metadata"]["name"] == "churn"


def test_long_names_are_shortened_deterministically_to_63_characters() -> None:
    long_version = "v" * 70
    first = children.child_name("churn", long_version)
    assert len(first) <= 63
    assert first == children.child_name("churn", long_version)
    assert first != children.child_name("churn", long_version + "x")


def test_labels_follow_the_design_and_the_selector_picks_one_version() -> None:
    dep = _deployment()
    expected = {
        "app.kubernetes.io/name": "modelops-serving", "app.kubernetes.io/instance": "churn",
        "app.kubernetes.io/managed-by": "modelops", "modelops.dev/model": "churn", "modelops.dev/version": "churn-v2",
    }
    assert dep["metadata"]["labels"] == expected
    assert dep["spec"]["template"]["metadata"]["labels"] == expected
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/instance": "churn", "modelops.dev/version": "churn-v2"
    }
    assert children.main_service(OWNER, "churn", "churn-v1")["spec"]["selector"] == {
        "app.kubernetes.io/instance": "churn", "modelops.dev/version": "churn-v1"
    }


def test_init_container_fetches_and_verifies_the_artifact_into_an_empty_dir() -> None:
    pod = _deployment()["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert fetch["command"] + fetch["args"] == [
        "modelops", "fetch", "--uri", "s3://models/churn/v2/", "--sha256", "c" * 64, "--dest", "/models"
    ]
    assert {"name": "models", "emptyDir": {}} in pod["volumes"]
    assert {"name": "models", "mountPath": "/models"} in fetch["volumeMounts"]


def test_server_container_serves_the_verified_directory_with_the_spec_settings() -> None:
    (serve,) = _deployment()["spec"]["template"]["spec"]["containers"]
    assert serve["image"] == "registry/modelops:1"
    assert serve["command"] + serve["args"] == [
        "modelops", "serve", "--model-dir", "/models", "--port", "8080", "--model-name", "churn",
        "--model-version", "churn-v2", "--expected-sha256", "c" * 64, "--max-batch-size", "16",
        "--max-batch-latency-ms", "2.5", "--max-concurrency", "64", "--graceful-timeout", "30",
    ]
    assert serve["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert serve["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert serve["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert serve["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in serve["volumeMounts"]


def test_trusted_and_skew_flags_reach_the_server_only_when_the_version_says_so() -> None:
    plain = children.serve_args(SPEC, V2)
    assert "--trusted" not in plain
    assert "--allow-version-skew" not in plain
    flagged = children.serve_args(SPEC, ServedVersion("v", "file:///m", "d" * 64, "joblib", True, True))
    assert flagged[-2:] == ["--trusted", "--allow-version-skew"]


def test_pods_run_non_root_read_only_without_privileges_and_with_a_writable_tmp() -> None:
    dep = _deployment()
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 3
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["initContainers"] + pod["containers"]:
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]


def test_services_expose_port_8080_to_the_named_container_port() -> None:
    svc = children.version_service(OWNER, "churn", "churn-v2")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert children.endpoint(OWNER, "churn") == "http://churn.prod.svc:8080/v2/models/churn"


def test_pod_commands_parse_with_the_real_serve_and_fetch_command_lines() -> None:
    from modelops.cli import build_parser

    pod = children.deployment(OWNER, SPEC, ServedVersion("v", "file:///m", "d" * 64, "joblib", True, True),
                              "img")["spec"]["template"]["spec"]
    serve_args = pod["containers"][0]["args"]
    serve = build_parser(only="serve").parse_args(serve_args)
    assert (serve.model_name, serve.model_version, serve.expected_sha256) == ("churn", "v", "d" * 64)
    assert (serve.port, serve.max_batch_size, serve.trusted, serve.allow_version_skew) == (8080, 16, True, True)
    fetch = build_parser(only="fetch").parse_args(pod["initContainers"][0]["args"])
    assert (fetch.uri, fetch.sha256, str(fetch.dest)) == ("file:///m", "d" * 64, "/models")

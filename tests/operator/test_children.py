"""The serving Deployment and Services of a version: names, labels, owner, pod security, args."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

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


# -- child names (issue 12 item 6) ------------------------------------------------------------

DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_label = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6}){0,4}", fullmatch=True)


def test_the_usual_names_stay_readable() -> None:
    assert children.child_name("churn", "churn-v1") == "churn-churn-v1"


def test_names_joining_alike_no_longer_collide() -> None:
    first, second = children.child_name("a", "b-c"), children.child_name("a-b", "c")
    assert first != second
    assert first.startswith("a-b-c-")
    assert second.startswith("a-b-c-")
    # and a version child never takes the name of another ModelDeployment's main Service
    assert children.child_name("churn", "v2") != "churn-v2"


@given(deployment=_label, version=_label)
def test_child_names_are_dns_1035_labels_of_at_most_63_characters(deployment: str, version: str) -> None:
    name = children.child_name(deployment, version * 9)  # long ones too
    assert len(name) <= 63
    assert DNS_1035.fullmatch(name), name
    assert DNS_1035.fullmatch(children.child_name(deployment, version)), name


@given(first=st.tuples(_label, _label), second=st.tuples(_label, _label))
def test_different_deployment_version_pairs_get_different_names(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assume(first != second)
    assert children.child_name(*first) != children.child_name(*second)


def test_a_version_name_with_dots_still_gives_a_valid_name() -> None:
    assert DNS_1035.fullmatch(children.child_name("churn", "churn.v1"))


# -- termination (issue 12 item 11) ----------------------------------------------------------


def test_serving_pods_leave_the_service_before_the_server_stops_accepting() -> None:
    pod = _deployment()["spec"]["template"]["spec"]
    (serve,) = pod["containers"]
    command = serve["lifecycle"]["preStop"]["exec"]["command"]
    # The image's own interpreter (there may be no `sleep` binary), sleeping PRE_STOP_DELAY_S.
    assert command[:2] == ["python", "-c"]
    call = ast.parse(command[2]).body[-1]
    assert isinstance(call, ast.Expr)
    assert isinstance(call.value, ast.Call)
    assert ast.unparse(call.value.func) == "time.sleep"
    delay = ast.literal_eval(call.value.args[0])
    assert 1 <= delay == children.PRE_STOP_DELAY_S
    # The grace period covers the preStop delay and the server's drain, which the args set.
    from modelops.cli import build_parser

    drain = build_parser(only="serve").parse_args(serve["args"]).graceful_timeout
    assert pod["terminationGracePeriodSeconds"] > delay + drain
    assert "lifecycle" not in pod["initContainers"][0]


def test_the_pre_stop_command_runs_with_a_python_interpreter() -> None:
    command = children.PRE_STOP_COMMAND
    quick = command[2].replace(f"sleep({children.PRE_STOP_DELAY_S})", "sleep(0)")
    assert quick != command[2]
    assert subprocess.run([sys.executable, "-c", quick], check=False).returncode == 0


def test_every_version_signs_feedback_ids_with_the_deployments_key_and_advertises_its_pod_ip() -> None:
    from modelops.serving.feedback_ids import KEY_ENV

    def env(version: ServedVersion, owner: Owner = OWNER) -> dict[str, Any]:
        (serve,) = children.deployment(owner, SPEC, version, "img")["spec"]["template"]["spec"]["containers"]
        return {var["name"]: var.get("value", var.get("valueFrom")) for var in serve["env"]}

    v1 = ServedVersion("churn-v1", "s3://models/churn/v1/", "a" * 64)
    assert children.FEEDBACK_KEY_ENV == KEY_ENV
    assert env(V2)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # feedback lands on any replica of any version: they all verify the same ids
    assert env(V2)[KEY_ENV] == env(v1)[KEY_ENV]
    assert len(env(V2)[KEY_ENV]) == 64
    # another deployment (or a re-created one with a new uid) does not accept these ids
    assert env(V2, Owner("churn", "prod", "uid-2"))[KEY_ENV] != env(V2)[KEY_ENV]
    assert env(V2, Owner("fraud", "prod", "uid-1"))[KEY_ENV] != env(V2)[KEY_ENV]

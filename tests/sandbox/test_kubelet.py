"""The local kubelet runs a pod template as local processes, as a kubelet would."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import pytest

from modelops.sandbox import kubelet
from modelops.sandbox.kubelet import Replica, template_hash

POD: dict[str, Any] = {
    "initContainers": [
        {
            "name": "fetch",
            "command": ["modelops"],
            "args": ["fetch", "--uri", "file:///a", "--sha256", "f" * 64, "--dest", "/models/current"],
            "volumeMounts": [{"name": "model", "mountPath": "/models"}],
        }
    ],
    "containers": [
        {
            "name": "serve",
            "command": ["modelops"],
            "args": ["serve", "--model-dir", "/models/current", "--port", "8080"],
            "env": [{"name": "OMP_NUM_THREADS", "value": "1"}],
            "ports": [{"containerPort": 8080}],
            "volumeMounts": [
                {"name": "model", "mountPath": "/models", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
    ],
    "volumes": [{"name": "model", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
}


def _replica(root: Path) -> Replica:
    return Replica(
        name="churn-churn-v1-0",
        address="127.0.1.1",
        root=root,
        template_hash="abc",
        container=POD["containers"][0],
        init_containers=POD["initContainers"],
        volumes=POD["volumes"],
    )


def test_modelops_commands_run_with_this_interpreter_and_volumes_map_to_folders(tmp_path: Path) -> None:
    replica = _replica(tmp_path)
    argv = replica._argv(POD["initContainers"][0])
    assert argv[:3] == [sys.executable, "-m", "modelops.cli"]
    assert argv[-1] == str(tmp_path / "volumes" / "model" / "current")
    serve = replica._argv(POD["containers"][0])
    assert serve[serve.index("--model-dir") + 1] == str(tmp_path / "volumes" / "model" / "current")


def test_container_env_and_a_tmp_volume_reach_the_process(tmp_path: Path) -> None:
    env = _replica(tmp_path)._env(POD["containers"][0])
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["TMPDIR"] == str(tmp_path / "volumes" / "tmp")


def test_port_comes_from_the_container_spec(tmp_path: Path) -> None:
    assert _replica(tmp_path).port() == 8080


def test_a_replica_without_a_process_is_not_ready(tmp_path: Path) -> None:
    assert _replica(tmp_path).ready() is False


def test_template_hash_changes_with_the_pod_template_only() -> None:
    dep = {"metadata": {"name": "a"}, "spec": {"replicas": 1, "template": {"spec": POD}}}
    scaled = {"metadata": {"name": "a"}, "spec": {"replicas": 3, "template": {"spec": POD}}}
    changed = {"metadata": {"name": "a"}, "spec": {"replicas": 1, "template": {"spec": {**POD, "volumes": []}}}}
    assert template_hash(dep) == template_hash(scaled)
    assert template_hash(dep) != template_hash(changed)


def test_an_interpreter_under_a_mount_path_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A virtualenv under /tmp (a fresh clone there) must stay where it is, though /tmp is a mount.
    monkeypatch.setattr(kubelet, "MODULE_COMMAND", ["/tmp/clone/.venv/bin/python", "-m", "modelops.cli"])
    argv = _replica(tmp_path)._argv(POD["containers"][0])
    assert argv[0] == "/tmp/clone/.venv/bin/python"


@pytest.mark.parametrize("container", [
    {"name": "c", "command": ["sh", "-c", "id"]},
    {"name": "c", "command": ["modelops"], "args": ["operator"]},
    {"name": "c", "command": ["python", "-m", "modelops.cli", "serve"]},
    {"name": "c", "image": "busybox"},
    {"name": "c", "command": ["modelops"]},
])
def test_only_the_projects_own_entrypoints_may_run(container: dict[str, Any]) -> None:
    refusal = kubelet.entrypoint_refusal(container)
    assert refusal is not None
    assert "runs only `modelops {fetch,serve,train,validate}`" in refusal


def test_serve_and_fetch_are_allowed() -> None:
    assert kubelet.entrypoint_refusal(POD["containers"][0]) is None
    assert kubelet.entrypoint_refusal(POD["initContainers"][0]) is None
    assert kubelet.entrypoint_refusal({"command": ["/usr/local/bin/modelops", "serve"]}) is None


@pytest.mark.parametrize("where", ["container", "init"])
def test_a_shell_command_is_refused_and_never_runs(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "pwned"
    shell = {"name": "evil", "command": ["sh", "-c", f"touch {marker}"]}
    replica = Replica(
        name="evil-0", address="127.0.1.1", root=tmp_path / "pod", template_hash="abc",
        container=shell if where == "container" else POD["containers"][0],
        init_containers=[shell] if where == "init" else [], volumes=[],
    )
    replica.start()
    assert replica._starter is not None
    replica._starter.join(30)
    assert replica.failed is not None
    assert "'sh -c touch" in replica.failed
    assert replica.process is None
    assert not marker.exists()


def test_the_termination_message_path_is_a_file_of_the_pod(tmp_path: Path) -> None:
    replica = _replica(tmp_path)
    named = replica._argv({"name": "train", "command": ["modelops"], "terminationMessagePath": "/tmp/result",
                           "args": ["train", "--termination-log", "/tmp/result"]})
    assert named[-1] == str(tmp_path / "termination" / "train")
    # train and validate default to /dev/termination-log: they are told the pod's file instead.
    default = replica._argv({"name": "validate", "command": ["modelops"], "args": ["validate"]})
    assert default[-1] == f"--termination-log={tmp_path / 'termination' / 'validate'}"
    assert "--termination-log" not in " ".join(replica._argv(POD["containers"][0]))


def test_the_termination_message_is_the_file_or_with_fallback_the_logs_end(tmp_path: Path) -> None:
    replica = _replica(tmp_path)
    container = {"name": "train"}
    replica._argv(container)
    replica.termination_file(container).write_text('{"result": "Succeeded"}')
    assert replica.termination_message(container, 0) == '{"result": "Succeeded"}'
    replica.termination_file(container).write_text("")
    replica.log_path(container).write_text("Traceback: boom\n")
    assert replica.termination_message(container, 1) == ""
    assert replica.termination_message({**container, "terminationMessagePolicy": "FallbackToLogsOnError"}, 1) == (
        "Traceback: boom")


@pytest.mark.parametrize(("image", "labels", "runs"), [
    ("ghcr.io/modelops/modelops:1.0", {}, True),
    ("registry:5000/modelops", {}, True),
    ("busybox", {"app.kubernetes.io/managed-by": "modelops"}, True),
    ("busybox", {}, False),
])
def test_jobs_run_here_when_ours_or_of_the_modelops_image(image: str, labels: dict[str, str], runs: bool) -> None:
    job = {"metadata": {"name": "j", "labels": labels},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
    assert kubelet.runs_here(job) is runs


def test_a_container_failing_its_liveness_probe_long_enough_is_killed(tmp_path: Path) -> None:
    import subprocess
    import time

    replica = _replica(tmp_path)
    # Nothing listens on its port: every probe fails.
    replica.container = {**POD["containers"][0], "ports": [{"name": "http", "containerPort": 9}],
                         "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": "http"},
                                           "periodSeconds": 10, "failureThreshold": 3}}
    replica.address = "127.0.0.1"
    replica.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = time.time()
        replica._main_run = (start, None, None, "")
        assert replica.check_liveness(start) is None  # the first failure
        assert replica.check_liveness(start + 29) is None  # within periodSeconds x failureThreshold
        assert replica.process.poll() is None
        killed = replica.check_liveness(start + 31)
        assert killed == "Container serve failed liveness probe for 30s, will be restarted"
        assert replica.process.wait(10) == -9
    finally:
        if replica.process.poll() is None:
            replica.process.kill()
            replica.process.wait()


def test_pod_addresses_skip_ports_in_use_and_the_service_network(tmp_path: Path) -> None:
    import socket
    import ssl

    from modelops.sandbox.api import Api

    node = kubelet.LocalKubelet(Api("https://127.0.0.1:1", "t", ssl.create_default_context()), "default", tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.1.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        assert node._address(port) == "127.0.1.2"  # 127.0.1.1:port belongs to someone else
        assert node._address(port) == "127.0.1.3"
    assert node._address(port) == "127.0.1.1"  # free again: used, not lost
    addresses = list(itertools.islice(kubelet._addresses(), 300))
    assert not any(a.startswith("127.0.2.") for a in addresses)


def test_sandboxes_running_at_once_get_different_service_networks() -> None:
    from modelops.sandbox.lock import NetworkClaim

    first, second = NetworkClaim(), NetworkClaim()
    try:
        one, two = first.acquire(), second.acquire()
        assert one != two
        assert {one, two} <= set(lock_networks())
    finally:
        first.release()
        second.release()
    again = NetworkClaim()
    try:
        assert again.acquire() in lock_networks()  # released ones can be claimed again
    finally:
        again.release()


def lock_networks() -> tuple[str, ...]:
    from modelops.sandbox.lock import SERVICE_NETWORKS

    return SERVICE_NETWORKS


def test_the_downward_api_gives_the_pod_its_own_address(tmp_path: Path) -> None:
    container = {**POD["containers"][0],
                 "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    assert _replica(tmp_path)._env(container)["POD_IP"] == "127.0.1.1"


def test_stopped_pods_leave_the_services_before_their_sigterm(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Else the proxy sends new connections to a pod between its SIGTERM and the next pass, and
    # they fail (the sandbox's e2e canary lost ~3% of its requests at each scale-down).
    import ssl

    from modelops.sandbox.api import Api
    from modelops.sandbox.proxy import ServiceProxy

    happened: list[str] = []

    class Proxy(ServiceProxy):
        def drop(self, hosts: set[str]) -> None:
            happened.append(f"drop {sorted(hosts)}")
            super().drop(hosts)

    proxy = Proxy()
    try:
        node = kubelet.LocalKubelet(Api("https://127.0.0.1:1", "t", ssl.create_default_context()), "default",
                                    tmp_path, proxy)
        replica = _replica(tmp_path)
        monkeypatch.setattr(replica, "terminate", lambda: happened.append("terminate"))
        monkeypatch.setattr(node, "_delete", lambda *_: None)
        node._stop([replica])
    finally:
        proxy.close()
    assert happened[:2] == ["drop ['127.0.1.1']", "terminate"]  # (stop() sends SIGTERM again: harmless)

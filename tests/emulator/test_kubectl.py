"""kubectl and kopf against the emulator: what users and the operator actually run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.emulator.testing import KUBECTL, EmulatorHandle, running_emulator
from tests.emulator.conftest import WIDGET_API, WIDGETS_CRD, widget

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


@pytest.fixture
def bare(tmp_path: Path) -> Any:
    """An emulator without any CRD: the tests install them with kubectl."""
    with running_emulator(tmp_path / "kubeconfig") as handle:
        yield handle


def write(tmp_path: Path, name: str, *objects: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        threading.Event().wait(0.1)
    raise AssertionError("the condition was not met in time")


def background_kubectl(handle: EmulatorHandle, *args: str) -> subprocess.Popen[str]:
    """kubectl running while the test acts; its own cache dir, as EmulatorHandle.kubectl uses."""
    cache = handle.kubeconfig.parent / f"cache-{time.monotonic_ns()}"
    return subprocess.Popen([str(KUBECTL), "--kubeconfig", str(handle.kubeconfig), "--cache-dir", str(cache), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_apply_crd_then_resource_and_get_by_short_name(bare: EmulatorHandle, tmp_path: Path) -> None:
    assert "created" in bare.kubectl("apply", "-f", str(WIDGETS_CRD)).stdout
    bare.kubectl("apply", "-f", write(tmp_path, "w.yaml", widget("w1", color="green")))
    bare.patch_status(WIDGET_API, "Widget", "w1", {"conditions": [{"type": "Ready", "status": "True"}]})
    table = lines(bare.kubectl("get", "wd").stdout)
    assert table[0] == ["NAME", "COLOR", "SIZE", "READY", "AGE"]
    assert table[1][:4] == ["w1", "green", "3", "True"]
    shown = yaml.safe_load(bare.kubectl("get", "widget", "w1", "-o", "yaml").stdout)
    assert shown["spec"] == {"size": 3, "color": "green"}
    assert shown["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]


def test_server_side_apply_and_explain(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.kubectl("apply", "--server-side", "-f", str(WIDGETS_CRD))
    path = write(tmp_path, "w.yaml", widget("w1"))
    assert "serverside-applied" in bare.kubectl("apply", "--server-side", "-f", path).stdout
    bare.kubectl("apply", "--server-side", "-f", write(tmp_path, "w2.yaml", widget("w1", size=5)))
    assert bare.get(WIDGET_API, "Widget", "w1")["spec"]["size"] == 5
    explained = bare.kubectl("explain", "wd.spec.size").stdout
    assert "How big the widget is." in explained
    assert "<integer>" in explained


def test_wait_for_a_condition_set_through_status(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.apply_crds(WIDGETS_CRD)
    bare.kubectl("apply", "-f", write(tmp_path, "w.yaml", widget("w1")))
    waiting = background_kubectl(bare, "wait", "--for=condition=Ready", "wd/w1", "--timeout=30s")
    eventually(lambda: bare.cluster.store.watch_count >= 1)  # kubectl is watching, the condition unset
    assert waiting.poll() is None
    bare.patch_status(WIDGET_API, "Widget", "w1", {"conditions": [
        {"type": "Ready", "status": "True", "reason": "Made", "message": "done", "observedGeneration": 1,
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    output, _ = waiting.communicate(timeout=30)
    assert waiting.returncode == 0
    assert "condition met" in output


def test_delete_cascades_to_owned_children(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.apply_crds(WIDGETS_CRD)
    owner = bare.create({**widget("w1"), "metadata": {"name": "w1", "namespace": "default"}})
    ref = {"apiVersion": WIDGET_API, "kind": "Widget", "name": "w1", "uid": owner["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    bare.create({"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "w1-serving", "namespace": "default", "ownerReferences": [ref]},
                 "spec": {"replicas": 1}})
    bare.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "lonely", "namespace": "default"},
                 "spec": {"replicas": 1}})
    assert "deleted" in bare.kubectl("delete", "wd", "w1").stdout
    assert bare.find("apps/v1", "Deployment", "w1-serving") is None
    bare.kubectl("delete", "deployment", "lonely")
    assert "No resources found" in bare.kubectl("get", "deploy").stderr


def test_invalid_resources_are_rejected_naming_the_field(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.apply_crds(WIDGETS_CRD)
    result = bare.kubectl("apply", "-f", write(tmp_path, "bad.yaml", widget("w1", size=42)), check=False)
    assert result.returncode != 0
    assert "spec.size" in result.stderr
    assert "should be less than or equal to 10" in result.stderr
    unknown = bare.kubectl("apply", "-f", write(tmp_path, "unknown.yaml", widget("w1", sizes=1)), check=False)
    assert 'unknown field "spec.sizes"' in unknown.stderr


def test_immutability_is_enforced(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.apply_crds(WIDGETS_CRD)
    bare.kubectl("apply", "-f", write(tmp_path, "w.yaml", widget("w1", identity={"serial": "a"})))
    result = bare.kubectl("apply", "-f", write(tmp_path, "w.yaml", widget("w1", identity={"serial": "b"})),
                          check=False)
    assert result.returncode != 0
    assert "identity is immutable" in result.stderr


def test_describe_shows_events_and_get_watch_shows_changes(bare: EmulatorHandle, tmp_path: Path) -> None:
    bare.apply_crds(WIDGETS_CRD)
    created = bare.create({**widget("w1"), "metadata": {"name": "w1", "namespace": "default"}})
    bare.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "w1.made", "namespace": "default"},
                 "type": "Normal", "reason": "Made", "message": "made a widget", "count": 1,
                 "involvedObject": {"apiVersion": WIDGET_API, "kind": "Widget", "name": "w1", "namespace": "default",
                                    "uid": created["metadata"]["uid"]}})
    described = bare.kubectl("describe", "wd", "w1").stdout
    assert "made a widget" in described
    watching = background_kubectl(bare, "get", "wd", "--watch")
    eventually(lambda: bare.cluster.store.watch_count >= 1)
    bare.patch(WIDGET_API, "Widget", "w1", {"spec": {"size": 6}})
    bare.drop_watches()  # ends kubectl's watch, as a server-side timeout would
    watched, _ = watching.communicate(timeout=30)
    sizes = [row[2] for row in lines(watched)[1:]]
    assert sizes[:2] == ["3", "6"], watched


def test_namespaces_with_kubectl(bare: EmulatorHandle) -> None:
    assert "namespace/team-a created" in bare.kubectl("create", "namespace", "team-a").stdout
    names = [row[0] for row in lines(bare.kubectl("get", "ns").stdout)[1:]]
    assert {"default", "kube-system", "team-a"} <= set(names)
    bare.kubectl("create", "configmap", "settings", "--from-literal=a=b", "-n", "team-a")
    assert bare.get("v1", "ConfigMap", "settings", "team-a")["data"] == {"a": "b"}


def test_client_side_apply_of_a_deployment_removes_a_container(bare: EmulatorHandle, tmp_path: Path) -> None:
    def deployment(*names: str) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                         "template": {"metadata": {"labels": {"app": "d"}},
                                      "spec": {"containers": [{"name": n, "image": "busybox"} for n in names]}}}}

    bare.kubectl("apply", "-f", write(tmp_path, "d.yaml", deployment("main", "side")))
    bare.kubectl("apply", "-f", write(tmp_path, "d.yaml", deployment("main")))
    containers = bare.get("apps/v1", "Deployment", "d")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    table = lines(bare.kubectl("get", "deploy", "d").stdout)
    assert table[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]


def test_kopf_operator_handles_a_widget(k8s: EmulatorHandle, tmp_path: Path) -> None:
    log = (tmp_path / "kopf.log").open("w")
    env = dict(os.environ, KUBECONFIG=str(k8s.kubeconfig))
    command = [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", "default", "--verbose",
               str(HERE / "widget_operator.py")]
    operator = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        k8s.create({**widget("w1", size=4), "metadata": {"name": "w1", "namespace": "default"}})
        eventually(lambda: k8s.get(WIDGET_API, "Widget", "w1").get("status", {}).get("phase") == "Made-4")
        made = k8s.get(WIDGET_API, "Widget", "w1")
        assert made["metadata"]["finalizers"] == ["test.modelops.dev/widget-operator"]
        eventually(lambda: any(e.get("reason") == "Made" for e in k8s.list("v1", "Event", "default")))
        k8s.delete(WIDGET_API, "Widget", "w1")
        eventually(lambda: k8s.find(WIDGET_API, "Widget", "w1") is None)
        failed = [r for r in k8s.requests if r.status >= 500]
        assert failed == [], failed
    finally:
        operator.terminate()
        try:
            operator.wait(timeout=15)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait()
        log.close()

"""The sandbox kubelet against the emulator: real Pods, ReplicaSets and Deployment status.

The kubelet runs in a thread against a running emulator, with real `modelops fetch` and
`modelops serve` processes of a tiny artifact; the test reads what it wrote through the API
and through kubectl, as a user of a cluster would.
"""

from __future__ import annotations

import json
import random
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from modelops.emulator.testing import KUBECTL, EmulatorHandle
from tests.operator.harness import wait_for
from tests.sandbox.conftest import Node

pytestmark = pytest.mark.integration

MANAGED = {"app.kubernetes.io/managed-by": "modelops", "app.kubernetes.io/instance": "churn"}


def deployment(name: str, artifact: tuple[str, str], *, replicas: int = 1,
               command: list[str] | None = None, sha256: str | None = None) -> dict[str, Any]:
    uri, sha = artifact
    labels = {**MANAGED, "modelops.dev/version": name}
    serve = {"name": "serve", "image": "ghcr.io/modelops/modelops:test", "command": command or ["modelops"],
             "args": [] if command else ["serve", "--model-dir", "/models/current", "--port", "8080"],
             "ports": [{"name": "http", "containerPort": 8080}],
             "volumeMounts": [{"name": "models", "mountPath": "/models"}, {"name": "tmp", "mountPath": "/tmp"}]}
    fetch = {"name": "fetch", "image": "ghcr.io/modelops/modelops:test", "command": ["modelops"],
             "terminationMessagePolicy": "FallbackToLogsOnError",
             "args": ["fetch", "--uri", uri, "--sha256", sha256 or sha, "--dest", "/models/current"],
             "volumeMounts": [{"name": "models", "mountPath": "/models"}, {"name": "tmp", "mountPath": "/tmp"}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"initContainers": [fetch], "containers": [serve],
                                           "volumes": [{"name": "models", "emptyDir": {}},
                                                       {"name": "tmp", "emptyDir": {}}]}}}}


def pods_of(k8s: EmulatorHandle, name: str) -> list[dict[str, Any]]:
    return k8s.list("v1", "Pod", "default", label_selector=f"modelops.dev/version={name}")


def ready_pods(k8s: EmulatorHandle, name: str, count: int) -> list[dict[str, Any]] | None:
    found = [p for p in pods_of(k8s, name) if any(
        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]
    return found if len(found) == count else None


def test_replicas_are_pods_of_a_replicaset_of_the_deployment(node: Node) -> None:
    k8s = node.k8s
    dep = k8s.create(deployment("churn-v1", node.artifact))
    [pod] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a ready pod", timeout=90)
    [rs] = wait_for(lambda: [r for r in k8s.list("apps/v1", "ReplicaSet", "default")
                             if r.get("status", {}).get("readyReplicas") == 1], "the ReplicaSet's status")
    assert rs["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]
    assert rs["metadata"]["name"] == f"churn-v1-{rs['metadata']['labels']['pod-template-hash']}"
    meta, status = pod["metadata"], pod["status"]
    assert meta["name"].startswith(rs["metadata"]["name"] + "-")
    assert meta["ownerReferences"][0] == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                          "uid": rs["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}
    assert meta["labels"]["modelops.dev/version"] == "churn-v1"
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("127.0.1.")
    assert status["hostIP"] == "127.0.0.1"
    assert pod["spec"]["nodeName"] == "modelops-sandbox"
    [serve] = status["containerStatuses"]
    assert serve["ready"] is True
    assert serve["restartCount"] == 0
    assert "running" in serve["state"]
    [fetch] = status["initContainerStatuses"]
    assert fetch["state"]["terminated"]["exitCode"] == 0
    assert {c["type"] for c in status["conditions"]} == {"PodScheduled", "Initialized", "ContainersReady", "Ready"}
    shown = wait_for(lambda: (s := k8s.get("apps/v1", "Deployment", "churn-v1").get("status", {})).get(
        "readyReplicas") == 1 and s, "deployment status")
    assert (shown["replicas"], shown["readyReplicas"], shown["availableReplicas"], shown["updatedReplicas"]) == (
        1, 1, 1, 1)
    available = next(c for c in shown["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")

    wide = k8s.kubectl("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    row = wide[1].split()
    assert row[:4] == [meta["name"], "1/1", "Running", "0"]
    assert row[5:7] == [status["podIP"], "modelops-sandbox"]

    def reasons() -> set[str]:
        return {f"{e['involvedObject']['kind']}/{e['reason']}" for e in k8s.list("v1", "Event", "default")}

    expected = {"Deployment/ScalingReplicaSet", "ReplicaSet/SuccessfulCreate", "Pod/Scheduled", "Pod/Created",
                "Pod/Started"}
    wait_for(lambda: expected <= reasons(), "the controllers' and kubelet's events")

    nodes = k8s.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert nodes[0].split()[:7] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP"]
    assert nodes[1].split()[:3] == ["modelops-sandbox", "Ready", "control-plane"]
    assert nodes[1].split()[5] == "127.0.0.1"

    # Scaled to zero: the processes stop and the Pod object goes with them.
    process = node.kubelet.replicas["churn-v1"][0].process
    assert process is not None
    k8s.patch("apps/v1", "Deployment", "churn-v1", {"spec": {"replicas": 0}})
    wait_for(lambda: pods_of(k8s, "churn-v1") == [], "pod deleted")
    assert process.poll() is not None


def test_a_refused_command_is_a_failed_pod_that_says_why(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("evil", node.artifact, command=["sh", "-c", "id"]))
    [pod] = wait_for(lambda: [p for p in pods_of(k8s, "evil") if p.get("status", {}).get("phase") == "Failed"],
                     "a failed pod")
    assert pod["status"]["reason"] == "UnsupportedCommand"
    assert "runs only `modelops {fetch,serve,train,validate}`" in pod["status"]["message"]
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "UnsupportedCommand"
    row = k8s.kubectl("get", "pods").stdout.splitlines()[1].split()
    assert row[1:3] == ["0/1", "UnsupportedCommand"]


def test_a_failing_init_container_fails_the_pod_with_its_exit_code_and_log(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("bad", node.artifact, sha256="0" * 64))
    [pod] = wait_for(lambda: [p for p in pods_of(k8s, "bad") if p.get("status", {}).get("phase") == "Failed"],
                     "a failed pod", timeout=60)
    terminated = pod["status"]["initContainerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] != 0
    assert terminated["reason"] == "Error"
    assert terminated["message"]  # FallbackToLogsOnError: the end of the fetch log says why it failed
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    row = k8s.kubectl("get", "pods").stdout.splitlines()[1].split()
    assert row[2] == "Init:Error"


def test_kubectl_logs_of_a_pod_and_of_a_deployment_tail_and_follow(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("churn-v1", node.artifact))
    [pod] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a ready pod", timeout=90)
    name = pod["metadata"]["name"]
    log_file = node.kubelet.replicas["churn-v1"][0].log_path({"name": "serve"})
    on_disk = log_file.read_text()
    assert on_disk
    assert k8s.kubectl("logs", name).stdout == on_disk
    by_deployment = k8s.kubectl("logs", "deploy/churn-v1")
    assert by_deployment.stdout == on_disk
    assert k8s.kubectl("logs", name, "-c", "fetch").stdout == node.kubelet.replicas["churn-v1"][0].log_path(
        {"name": "fetch"}).read_text()
    with log_file.open("a") as out:
        out.write("one\ntwo\n")
    assert k8s.kubectl("logs", name, "--tail=1").stdout == "two\n"
    refused = k8s.kubectl("logs", name, "--previous", check=False)
    assert refused.returncode != 0
    assert 'previous terminated container "serve"' in refused.stderr

    follower = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(k8s.kubeconfig), "logs", "-f", "--tail=1", name],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "two\n"  # connected: what comes next can only come from following
        with log_file.open("a") as out:
            out.write("three\n")
        assert follower.stdout.readline() == "three\n"
        # The pod goes away with its process: the follow ends, as on a cluster.
        k8s.patch("apps/v1", "Deployment", "churn-v1", {"spec": {"replicas": 0}})
        assert follower.wait(30) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.communicate()


def test_the_services_cluster_ip_reaches_a_ready_model(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("churn-v1", node.artifact))
    # A random address of the service network: tests running side by side do not collide.
    wanted = f"127.0.2.{random.randrange(100, 250)}"
    service = k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "churn", "namespace": "default"},
                          "spec": {"clusterIP": wanted, "selector": {"modelops.dev/version": "churn-v1"},
                                   "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}})
    ip = service["spec"]["clusterIP"]
    wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a ready pod", timeout=90)

    def ready() -> bool:
        with urllib.request.urlopen(f"http://{ip}:8080/v2/health/ready", timeout=5) as answer:
            return bool(answer.status == 200)

    assert wait_for(ready, "the model through the ClusterIP")
    row = k8s.kubectl("get", "svc", "churn").stdout.splitlines()[1].split()
    assert row[:5] == ["churn", "ClusterIP", ip, "<none>", "8080/TCP"]


def job(name: str, args: list[str], *, backoff_limit: int = 0, command: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "modelops"}},
            "spec": {"backoffLimit": backoff_limit, "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"restartPolicy": "Never", "containers": [
                    {"name": "train", "image": "ghcr.io/modelops/modelops:test", "command": command or ["modelops"],
                     "args": args, "terminationMessagePath": "/dev/termination-log"}]}}}}


def finished(k8s: EmulatorHandle, name: str) -> dict[str, Any] | None:
    found = k8s.get("batch/v1", "Job", name)
    conditions = found.get("status", {}).get("conditions", [])
    return found if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions) else None


def test_a_job_runs_once_and_reports_its_result_as_on_a_cluster(node: Node, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": (x[:, 0] + x[:, 1] > 0).astype(int)}).to_csv(
        tmp_path / "data.csv", index=False)
    k8s = node.k8s
    k8s.create(job("retrain", ["train", "--dataset-uri", str(tmp_path / "data.csv"), "--target", "y",
                               "--estimator", "sklearn.linear_model.LogisticRegression",
                               "--output-uri", str(tmp_path / "out"), "--name", "churn-v2"]))
    done = wait_for(lambda: finished(k8s, "retrain"), "the job to finish", timeout=120)
    status = done["status"]
    assert (status["succeeded"], status["failed"], status["active"]) == (1, 0, 0)
    assert {c["type"] for c in status["conditions"]} == {"SuccessCriteriaMet", "Complete"}
    assert status["completionTime"] >= status["startTime"]
    [pod] = k8s.list("v1", "Pod", "default", label_selector="batch.kubernetes.io/job-name=retrain")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    # The result the trainer wrote to its terminationMessagePath, as the operator reads it on a cluster.
    result = json.loads(terminated["message"])
    assert (result["result"], result["modelVersion"]) == ("Succeeded", "churn-v2")
    wait_for(lambda: any(e["reason"] == "Completed" and e["involvedObject"]["name"] == "retrain"
                         for e in k8s.list("v1", "Event", "default")), "the Job's Completed event")
    jobs = k8s.kubectl("get", "jobs").stdout.splitlines()
    assert jobs[1].split()[:3] == ["retrain", "Complete", "1/1"]
    assert "modelops train: artifact published" in k8s.kubectl("logs", "job/retrain").stdout


def test_a_failing_job_retries_up_to_its_backoff_limit_then_fails(node: Node) -> None:
    k8s = node.k8s
    k8s.create(job("broken", ["train", "--dataset-uri", "/nonexistent.csv", "--target", "y",
                              "--output-uri", "/nonexistent", "--name", "x"], backoff_limit=1))
    done = wait_for(lambda: finished(k8s, "broken"), "the job to fail", timeout=120)
    assert (done["status"]["failed"], done["status"]["succeeded"]) == (2, 0)
    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    attempts = k8s.list("v1", "Pod", "default", label_selector="job-name=broken")
    assert [p["status"]["phase"] for p in attempts] == ["Failed", "Failed"]
    message = json.loads(attempts[0]["status"]["containerStatuses"][0]["state"]["terminated"]["message"])
    assert message["result"] == "Failed"


def test_a_job_with_another_command_fails_at_once_without_running(node: Node, tmp_path: Path) -> None:
    k8s = node.k8s
    k8s.create(job("evil", [], command=["sh", "-c", f"touch {tmp_path / 'pwned'}"], backoff_limit=3))
    done = wait_for(lambda: finished(k8s, "evil"), "the job to fail")
    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "UnsupportedCommand"
    assert len(k8s.list("v1", "Pod", "default", label_selector="job-name=evil")) == 1
    assert not (tmp_path / "pwned").exists()


def test_a_deleted_pod_is_replaced_and_its_process_stops(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("churn-v1", node.artifact))
    [pod] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a ready pod", timeout=90)
    process = node.kubelet.replicas["churn-v1"][0].process
    assert process is not None
    k8s.kubectl("delete", "pod", pod["metadata"]["name"])
    [new] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a new ready pod", timeout=90)
    assert new["metadata"]["name"] != pod["metadata"]["name"]
    assert process.poll() is not None


def test_a_crashed_server_restarts_in_the_same_pod_after_a_back_off(node: Node) -> None:
    k8s = node.k8s
    k8s.create(deployment("churn-v1", node.artifact))
    [pod] = wait_for(lambda: ready_pods(k8s, "churn-v1", 1), "a ready pod", timeout=90)
    replica = node.kubelet.replicas["churn-v1"][0]
    assert replica.process is not None
    replica.process.kill()

    def restarted() -> dict[str, Any] | None:
        found = ready_pods(k8s, "churn-v1", 1)
        return found[0] if found and found[0]["status"]["containerStatuses"][0]["restartCount"] == 1 else None

    again = wait_for(restarted, "the container restarted and ready", timeout=90)
    assert again["metadata"]["name"] == pod["metadata"]["name"]  # the same pod
    serve = again["status"]["containerStatuses"][0]
    assert serve["lastState"]["terminated"]["exitCode"] == 137  # 128 + SIGKILL
    row = k8s.kubectl("get", "pod", pod["metadata"]["name"]).stdout.splitlines()[1].split()
    assert row[1:4] == ["1/1", "Running", "1"]
    assert k8s.kubectl("logs", pod["metadata"]["name"], "--previous").stdout  # the crashed instance's output

"""Built-in kinds print the columns of Kubernetes' own printers, through kubectl as users see them."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator import printers
from modelops.emulator.testing import EmulatorHandle


def _pod(status: dict[str, Any], *, inits: int = 0, containers: int = 1, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", **meta},
            "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)],
                     "initContainers": [{"name": f"i{i}"} for i in range(inits)]},
            "status": status}


RUNNING = {"name": "c0", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}


@pytest.mark.parametrize(("pod", "expected"), [
    (_pod({"phase": "Pending"}), ("Pending", 0, 0)),
    (_pod({"phase": "Running", "containerStatuses": [RUNNING]}), ("Running", 1, 0)),
    (_pod({"phase": "Running", "containerStatuses": [{**RUNNING, "ready": False}]}), ("Running", 0, 0)),
    (_pod({"phase": "Running", "containerStatuses": [
        {"name": "c0", "ready": False, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
     ("CrashLoopBackOff", 0, 3)),
    (_pod({"phase": "Failed", "containerStatuses": [{"name": "c0", "ready": False, "restartCount": 0,
                                                      "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
     ("Error", 0, 0)),
    (_pod({"phase": "Failed", "containerStatuses": [
        {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]}),
     ("ExitCode:137", 0, 0)),
    (_pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "restartCount": 0, "state": {"running": {}}}]}, inits=1), ("Init:0/1", 0, 0)),
    (_pod({"phase": "Failed", "initContainerStatuses": [
        {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}, inits=1),
     ("Init:Error", 0, 0)),
    (_pod({"phase": "Failed", "reason": "Evicted"}), ("Evicted", 0, 0)),
    (_pod({"phase": "Running", "containerStatuses": [RUNNING]}, deletionTimestamp="2026-01-01T00:00:00Z"),
     ("Terminating", 1, 0)),
])
def test_pod_status_column_follows_printpod(pod: dict[str, Any], expected: tuple[str, int, int]) -> None:
    reason, ready, restarts, _ = printers.pod_status_reason(pod)
    assert (reason, ready, restarts) == expected


@pytest.mark.parametrize(("conditions", "expected"), [
    ([], "Running"),
    ([{"type": "Complete", "status": "True"}], "Complete"),
    ([{"type": "Failed", "status": "True"}], "Failed"),
    ([{"type": "Suspended", "status": "True"}], "Suspended"),
    ([{"type": "Complete", "status": "False"}], "Running"),
])
def test_job_status_column(conditions: list[dict[str, Any]], expected: str) -> None:
    assert printers.job_status({"status": {"conditions": conditions}}) == expected


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_services_show_type_cluster_ip_external_ip_and_ports(k8s: EmulatorHandle) -> None:
    k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web", "tier": "a"}, "clusterIP": "127.0.2.7",
                         "ports": [{"port": 8080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}})
    table = rows(k8s.kubectl("get", "svc", "-o", "wide").stdout)
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert table[1][:5] == ["web", "ClusterIP", "127.0.2.7", "<none>", "8080/TCP,53/UDP"]
    assert table[1][6] == "app=web,tier=a"
    assert rows(k8s.kubectl("get", "svc").stdout)[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                                                         "AGE"]


def test_events_show_last_seen_type_reason_object_message(k8s: EmulatorHandle) -> None:
    k8s.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "churn.1", "namespace": "default"},
                "involvedObject": {"kind": "ModelDeployment", "name": "churn", "namespace": "default"},
                "type": "Normal", "reason": "Promoted", "message": "churn-v2 is stable",
                "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1,
                "source": {"component": "modelops"}})
    table = k8s.kubectl("get", "events").stdout.splitlines()
    assert table[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert table[1].split()[1:] == ["Normal", "Promoted", "modeldeployment/churn", "churn-v2", "is", "stable"]
    wide = k8s.kubectl("get", "events", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST",
                               "SEEN", "COUNT", "NAME"]
    assert wide[1].split()[-2:] == ["1", "churn.1"]


def test_deployments_replicasets_and_jobs(k8s: EmulatorHandle) -> None:
    template: dict[str, Any] = {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "serve", "image": "ghcr.io/modelops/modelops:1"}]}}
    k8s.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "default"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": template}})
    k8s.patch_status("apps/v1", "Deployment", "a", {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2,
                                                    "availableReplicas": 1})
    k8s.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "a-1", "namespace": "default"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": template}})
    k8s.patch_status("apps/v1", "ReplicaSet", "a-1", {"replicas": 2, "readyReplicas": 1})
    k8s.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train", "namespace": "default"},
                "spec": {"template": {"spec": {**template["spec"], "restartPolicy": "Never"}}}})
    k8s.patch_status("batch/v1", "Job", "train", {
        "succeeded": 1, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:01:05Z",
        "conditions": [{"type": "Complete", "status": "True"}]})
    deploy = rows(k8s.kubectl("get", "deploy", "-o", "wide").stdout)
    assert deploy[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert deploy[1][:4] == ["a", "1/2", "2", "1"]
    assert deploy[1][5:] == ["serve", "ghcr.io/modelops/modelops:1", "app=a"]
    rs = rows(k8s.kubectl("get", "rs").stdout)
    assert rs[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1][:4] == ["a-1", "2", "2", "1"]
    jobs = rows(k8s.kubectl("get", "jobs").stdout)
    assert jobs[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs[1][:4] == ["train", "Complete", "1/1", "65s"]


@pytest.mark.parametrize(("conditions", "unschedulable", "expected"), [
    ([{"type": "Ready", "status": "True"}], False, "Ready"),
    ([{"type": "Ready", "status": "False"}], False, "NotReady"),
    ([], False, "Unknown"),
    ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
])
def test_node_status_and_roles(conditions: list[dict[str, Any]], unschedulable: bool, expected: str) -> None:
    _, row = printers.PRINTERS[("", "nodes")]
    node = {"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/worker": "", "x": "y"}},
            "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}}
    assert row(node)[1:3] == [expected, "worker"]

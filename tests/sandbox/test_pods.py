"""The Pod, ReplicaSet and Deployment objects the sandbox writes, from what it observed (pure)."""

from __future__ import annotations

from typing import Any

from modelops.sandbox import pods
from modelops.sandbox.pods import ContainerView, PodView

DEP: dict[str, Any] = {
    "metadata": {"name": "churn-v1", "namespace": "default", "uid": "u-1", "generation": 3},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"v": "1"}},
             "template": {"metadata": {"labels": {"v": "1"}}, "spec": {"containers": [{"name": "serve"}]}}},
}


def _view(*, init: tuple[ContainerView, ...] = (), main: ContainerView, refused: tuple[str, str] | None = None
          ) -> PodView:
    return PodView("churn-v1-abc-x2b4z", "127.0.1.3", 100.0, init, (main,), refused)


def test_a_replicaset_of_the_template_owned_by_its_deployment_and_pods_owned_by_it() -> None:
    rs = pods.replicaset(DEP, "abc", 2)
    assert rs["metadata"]["name"] == "churn-v1-abc"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert rs["spec"]["selector"]["matchLabels"] == {"v": "1", "pod-template-hash": "abc"}
    pod = pods.pod({**rs, "metadata": {**rs["metadata"], "uid": "u-2"}}, "churn-v1-abc-x2b4z")
    assert pod["metadata"]["labels"] == {"v": "1", "pod-template-hash": "abc"}
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert pod["spec"]["nodeName"] == pods.NODE_NAME


def test_initializing_then_running_then_ready() -> None:
    pending = pods.pod_status(_view(init=(ContainerView("fetch", "i", started_at=101.0),),
                                    main=ContainerView("serve", "i")))
    assert pending["phase"] == "Pending"
    assert "podIP" not in pending
    assert pending["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    fetched = ContainerView("fetch", "i", started_at=101.0, exit_code=0, finished_at=102.0)
    running = pods.pod_status(_view(init=(fetched,), main=ContainerView("serve", "i", started_at=103.0)))
    assert (running["phase"], running["podIP"]) == ("Running", "127.0.1.3")
    assert {c["type"]: c["status"] for c in running["conditions"]} == {
        "PodScheduled": "True", "Initialized": "True", "ContainersReady": "False", "Ready": "False"}
    ready = pods.pod_status(_view(init=(fetched,), main=ContainerView("serve", "i", started_at=103.0, ready=True)))
    assert ready["containerStatuses"][0]["ready"] is True
    assert [c["status"] for c in ready["conditions"] if c["type"] == "Ready"] == ["True"]


def test_a_process_that_exits_is_a_terminated_container_with_its_code_and_message() -> None:
    ended = pods.pod_status(_view(main=ContainerView("serve", "i", started_at=1.0, exit_code=3, finished_at=2.0,
                                                     message="Traceback: boom")))
    assert ended["phase"] == "Failed"
    terminated = ended["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (3, "Error", "Traceback: boom")


def test_a_refused_pod_is_failed_with_the_reason() -> None:
    refused = pods.pod_status(_view(main=ContainerView("c", "i"), refused=("UnsupportedCommand", "not allowed")))
    assert (refused["phase"], refused["reason"], refused["message"]) == ("Failed", "UnsupportedCommand", "not allowed")


def test_deployment_conditions_keep_their_transition_time_while_unchanged() -> None:
    first = pods.deployment_status(DEP, new_replicaset="churn-v1-abc", replicas=2, updated=2, ready=2, now=100.0)
    assert first["observedGeneration"] == 3
    assert {c["type"]: (c["status"], c["reason"]) for c in first["conditions"]} == {
        "Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")}
    again = pods.deployment_status({**DEP, "status": first}, new_replicaset="churn-v1-abc", replicas=2, updated=2,
                                   ready=2, now=500.0)
    assert again == first  # nothing changed: nothing to write
    down = pods.deployment_status({**DEP, "status": first}, new_replicaset="churn-v1-abc", replicas=2, updated=2,
                                  ready=0, now=600.0)
    available = next(c for c in down["conditions"] if c["type"] == "Available")
    assert (available["status"], available["lastTransitionTime"]) == ("False", pods.rfc3339(600.0))
    assert down["unavailableReplicas"] == 2


def test_a_container_waiting_to_restart_keeps_its_pod_running_with_its_last_state() -> None:
    waiting = pods.pod_status(_view(main=ContainerView("serve", "i", restarts=2, last_exit=(137, 1.0, 2.0, ""),
                                                       waiting_reason="CrashLoopBackOff")))
    assert (waiting["phase"], waiting["podIP"]) == ("Running", "127.0.1.3")
    serve = waiting["containerStatuses"][0]
    assert serve["restartCount"] == 2
    assert serve["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert serve["lastState"]["terminated"]["exitCode"] == 137

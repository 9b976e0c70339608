"""The Events the sandbox records, from status transitions (pure)."""

from __future__ import annotations

from typing import Any

from modelops.sandbox import events


def _status(state: dict[str, Any], restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"containerStatuses": [{"name": "serve", "restartCount": restarts, "state": state}], **extra}


WAITING = {"waiting": {"reason": "PodInitializing"}}
RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}


def test_a_container_that_starts_is_created_and_started_once() -> None:
    assert events.pod_transitions("p", _status(WAITING), _status(RUNNING)) == [
        ("Normal", "Created", "Created container serve"), ("Normal", "Started", "Started container serve")]
    assert events.pod_transitions("p", _status(RUNNING), _status(RUNNING)) == []


def test_a_crash_loop_backs_off_then_starts_again() -> None:
    backoff = _status({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=1)
    assert events.pod_transitions("p", _status(RUNNING), backoff) == [
        ("Warning", "BackOff", "Back-off restarting failed container serve in pod p")]
    assert [t[1] for t in events.pod_transitions("p", backoff, _status(RUNNING, restarts=1))] == ["Created", "Started"]


def test_a_refused_pod_is_a_warning_with_the_reason() -> None:
    refused = _status({"waiting": {"reason": "UnsupportedCommand"}}, reason="UnsupportedCommand", message="no")
    assert events.pod_transitions("p", None, refused) == [("Warning", "Failed", "Error: no")]


def test_jobs_complete_or_fail_once() -> None:
    complete = {"conditions": [{"type": "Complete", "status": "True"}]}
    assert events.job_transitions({}, complete) == [("Normal", "Completed", "Job completed")]
    assert events.job_transitions(complete, complete) == []
    failed = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "m"}]}
    assert events.job_transitions(None, failed) == [("Warning", "BackoffLimitExceeded", "m")]


def test_an_event_names_its_object_and_source() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "uid": "u"}}
    made = events.event(events.reference(pod), ("Normal", "Started", "Started container serve"), "kubelet", 0.0)
    assert made["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "default",
                                      "uid": "u"}
    assert made["metadata"]["name"].startswith("p.")
    assert made["source"] == {"component": "kubelet", "host": "modelops-sandbox"}
    assert (made["firstTimestamp"], made["count"]) == ("1970-01-01T00:00:00Z", 1)

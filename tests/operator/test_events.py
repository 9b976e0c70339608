"""Events about our objects: who they are about, what kind, and a name stable under retries."""

from __future__ import annotations

from datetime import UTC, datetime

from modelops.operator.events import event_object
from modelops.operator.plans import Event

from .objects import model_deployment

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_an_event_names_its_object_reason_and_figures() -> None:
    obj = model_deployment()
    event = event_object(obj, Event("Normal", "Promoted", "churn-v2 promoted: 2/2 replicas available"), NOW)
    assert event["involvedObject"] == {
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment", "name": "churn", "namespace": "default",
        "uid": "uid-churn", "resourceVersion": None,
    }
    assert (event["type"], event["reason"], event["message"]) == (
        "Normal", "Promoted", "churn-v2 promoted: 2/2 replicas available")
    assert event["metadata"]["namespace"] == "default"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-11-27T12:00:00Z"


def test_the_same_event_at_the_same_moment_has_the_same_name_and_another_one_does_not() -> None:
    obj = model_deployment()
    first = event_object(obj, Event("Normal", "Promoted", "m"), NOW)
    again = event_object(obj, Event("Normal", "Promoted", "m"), NOW)
    other = event_object(obj, Event("Warning", "RolledBack", "m"), NOW)
    assert first["metadata"]["name"] == again["metadata"]["name"]
    assert first["metadata"]["name"] != other["metadata"]["name"]
    assert first["metadata"]["name"].startswith("churn.")

"""Writing only what changed: the status patch and the drift check of children."""

from __future__ import annotations

from modelops.operator.kube import contains
from modelops.operator.plans import status_patch


def test_an_unchanged_status_produces_no_patch() -> None:
    status = {"phase": "Stable", "conditions": [{"type": "Ready", "status": "True"}]}
    assert status_patch(status, dict(status)) == {}


def test_changed_fields_are_set_and_dropped_fields_are_nulled() -> None:
    old = {"phase": "Progressing", "candidate": "v2", "stable": "v1"}
    new = {"phase": "Stable", "stable": "v2"}
    assert status_patch(old, new) == {"phase": "Stable", "stable": "v2", "candidate": None}


def test_fields_the_server_adds_are_not_drift_but_a_changed_field_is() -> None:
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "serve", "image": "i:1"}]}}}}
    actual = {"spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
        {"name": "serve", "image": "i:1", "imagePullPolicy": "IfNotPresent"}]}}}}
    assert contains(actual, desired)
    actual["spec"]["replicas"] = 3
    assert not contains(actual, desired)
    assert not contains({"spec": {"template": {"spec": {"containers": []}}}}, desired)

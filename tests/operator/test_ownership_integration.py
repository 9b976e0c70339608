"""Issue 12 items 2 and 6c against the emulator: another application's objects are never
taken over or deleted, and two ModelDeployments never fight over a child name."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle

from .conftest import Artifact
from .harness import (
    MV_API,
    condition,
    has_condition,
    model_deployment,
    model_version,
    play_deployment_controller,
    running_operator,
    wait_for,
    wait_object,
)

pytestmark = pytest.mark.integration


def _web_service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]}}


def test_another_apps_service_is_untouched_by_creating_and_deleting_a_model_deployment_of_its_name(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(_web_service())
    before = k8s.get("v1", "Service", "web")
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    k8s.create(model_deployment("churn-v1", name="web"))
    with running_operator(k8s):
        wait_object(k8s, MV_API, "ModelVersion", "churn-v1", lambda o: has_condition(o, "Ready", "True"),
                    what="churn-v1 verified")
        web = wait_object(k8s, MV_API, "ModelDeployment", "web",
                          lambda o: has_condition(o, "Ready", "False", "NameConflict"), what="NameConflict")
        message = (condition(web, "Ready") or {})["message"]
        assert "Service default/web already exists" in message
        assert has_condition(web, "Stalled", "True", "NameConflict")
        assert web["status"]["observedGeneration"] == web["metadata"]["generation"]
        assert k8s.get("v1", "Service", "web") == before  # not a field, not even the resourceVersion
        assert k8s.list("apps/v1", "Deployment", "default") == []  # a rollout nobody could reach
        wait_for(lambda: any(e["reason"] == "NameConflict" and e["type"] == "Warning"
                             for e in k8s.list("v1", "Event", "default")), "a NameConflict Event")

        k8s.delete(MV_API, "ModelDeployment", "web")
        wait_for(lambda: k8s.find(MV_API, "ModelDeployment", "web") is None, "ModelDeployment web deleted")
    after = k8s.get("v1", "Service", "web")
    assert after == before
    assert "ownerReferences" not in after["metadata"]


def test_deployments_whose_names_and_versions_join_alike_get_separate_children(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1, v2 = artifacts
    # `a` with version `b-c` and `a-b` with version `c` both wanted children named `a-b-c`.
    k8s.create(model_version("b-c", v1.uri, v1.sha256))
    k8s.create(model_version("c", v2.uri, v2.sha256))
    k8s.create(model_deployment("b-c", name="a"))
    k8s.create(model_deployment("c", name="a-b"))
    with running_operator(k8s):
        def both() -> list[dict[str, Any]] | None:
            found = k8s.list("apps/v1", "Deployment", "default")
            return found if len(found) == 2 else None

        deployments = wait_for(both, "one Deployment per ModelDeployment")
        owners = {d["metadata"]["name"]: d["metadata"]["ownerReferences"][0]["name"] for d in deployments}
        assert sorted(owners.values()) == ["a", "a-b"]
        assert "a-b-c" not in owners
        for name in owners:
            play_deployment_controller(k8s, name, 2)
        for mdep in ("a", "a-b"):
            wait_object(k8s, MV_API, "ModelDeployment", mdep, lambda o: has_condition(o, "Ready", "True"),
                        what=f"{mdep} Ready")
        services = {s["metadata"]["name"]: s for s in k8s.list("v1", "Service", "default")}
        assert set(services) == {"a", "a-b"}  # at rest each one's Service D is its only Service
        assert services["a"]["spec"]["selector"]["modelops.dev/version"] == "b-c"
        assert services["a-b"]["spec"]["selector"]["modelops.dev/version"] == "c"


def test_an_object_that_appears_between_the_look_up_and_the_write_is_refused_too(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    theirs = {**_web_service(), "metadata": {"name": "churn", "namespace": "default", "labels": {"app": "web"}}}
    k8s.create(theirs)
    before = k8s.get("v1", "Service", "churn")
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    # The look-up by name misses it (as if it were created just after), so the create meets it: 409.
    missed = k8s.fail_next("GET", r"/namespaces/default/services/churn$", status=404)
    k8s.create(model_deployment("churn-v1"))
    with running_operator(k8s):
        wait_object(k8s, MV_API, "ModelDeployment", "churn",
                    lambda o: has_condition(o, "Ready", "False", "NameConflict"), what="NameConflict")
        assert missed.remaining == 0
        # What the first attempt made before it met the Service goes again: nothing serves unreachable.
        wait_for(lambda: not k8s.list("apps/v1", "Deployment", "default"), "the unreachable Deployment removed")
        assert k8s.get("v1", "Service", "churn") == before

"""The one-shot ``modelops.dev/action`` annotation is removed only while it still names the
action that was acted on: one set between the operator's read and its removal survives and
is acted on next (a merge patch setting it to null erased it unseen)."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.kube import DEPLOYMENTS, MODEL_DEPLOYMENTS, ApiUnavailable, Connection, Kube
from tests.operator.canary_cluster import CANARY, Replicas
from tests.operator.conftest import Artifact
from tests.operator.harness import MV_API, create_versions, has_condition, model_deployment, running_operator, wait_for

ACTION = "modelops.dev/action"


def _annotate(k8s: EmulatorHandle, value: str | None) -> dict[str, Any]:
    return k8s.patch(MV_API, "ModelDeployment", "churn", {"metadata": {"annotations": {ACTION: value}}})


def _action(obj: dict[str, Any]) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get(ACTION)


def _kube(k8s: EmulatorHandle) -> Kube:
    return Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context))


async def test_the_annotation_goes_only_while_it_has_the_value_acted_on(k8s: EmulatorHandle) -> None:
    k8s.create(model_deployment("churn-v1"))
    kube = _kube(k8s)
    try:
        _annotate(k8s, "promote")
        assert await kube.remove_annotation(MODEL_DEPLOYMENTS, "default", "churn", ACTION, "promote")
        assert _action(k8s.get(MV_API, "ModelDeployment", "churn")) is None

        _annotate(k8s, "abort")  # set after "promote" was read and acted on
        assert not await kube.remove_annotation(MODEL_DEPLOYMENTS, "default", "churn", ACTION, "promote")
        assert _action(k8s.get(MV_API, "ModelDeployment", "churn")) == "abort"
        _annotate(k8s, None)  # removed by someone else meanwhile: nothing to do
        assert not await kube.remove_annotation(MODEL_DEPLOYMENTS, "default", "churn", ACTION, "abort")
        assert not await kube.remove_annotation(MODEL_DEPLOYMENTS, "default", "gone", ACTION, "abort")
    finally:
        await kube.close()


async def test_a_conflict_on_a_delete_of_our_object_is_retried_not_taken_for_someone_elses(
    k8s: EmulatorHandle,
) -> None:
    created = k8s.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    })
    uid = created["metadata"]["uid"]
    kube = _kube(k8s)
    try:
        k8s.fail_next("DELETE", r"/deployments/d$", status=409)  # the server's conflict, not the precondition's
        with pytest.raises(ApiUnavailable, match="409"):
            await kube.delete(DEPLOYMENTS, "default", "d", uid=uid)
        assert k8s.find("apps/v1", "Deployment", "d") is not None
        assert not await kube.delete(DEPLOYMENTS, "default", "d", uid="another-uid")  # a real precondition failure
        assert await kube.delete(DEPLOYMENTS, "default", "d", uid=uid)
    finally:
        await kube.close()


@pytest.mark.integration
def test_an_action_set_between_the_read_and_the_removal_survives_and_is_acted_on(
    k8s: EmulatorHandle, replicas: Replicas, artifacts: tuple[Artifact, Artifact]
) -> None:
    create_versions(k8s, artifacts)
    one_long_step = {"steps": [{"weight": 20, "pause": "1h"}]}
    k8s.create(model_deployment("churn-v1", strategy={**CANARY, "canary": one_long_step}))
    with running_operator(k8s):
        replicas.until(lambda o: has_condition(o, "Ready", "True"), "churn-v1 stable")
        k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
        replicas.until(lambda o: (o.get("status") or {}).get("stepVerdict") == "Pass", "a passing analysis")
        # The operator writes the ModelDeployment itself (not its status) only to remove an action:
        # right before that removal lands, the user asks for a retry.
        hook = k8s.emulator.faults.before("PATCH", r"/modeldeployments/churn$", lambda: _annotate(k8s, "retry"))
        _annotate(k8s, "abort")
        wait_for(lambda: hook.hits == 1, "the operator removing the abort action")

        def retried(o: dict[str, Any]) -> bool:
            status = o.get("status") or {}
            return status.get("candidate") == "churn-v2" and _action(o) is None

        again = replicas.until(retried, "the retry acted on (candidate churn-v2 again) and then removed")
    status = again["status"]
    assert status["step"] == 0
    aborted = status["history"][-1]
    assert (aborted["version"], aborted["result"]) == ("churn-v2", "RolledBack")  # the abort was acted on too
    assert "abort" in aborted["reason"]

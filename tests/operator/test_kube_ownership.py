"""Issue 12 item 2, at the client: ``ensure`` and ``delete`` touch only what the owner controls."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.kube import DEPLOYMENTS, ApiUnavailable, Connection, Kube, NameConflictError
from modelops.operator.login import login


def _client(k8s: EmulatorHandle) -> Kube:
    return Kube(Connection.from_kopf(login(k8s.kubeconfig)))


def _deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"a": "b"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def _owned(name: str, uid: str, replicas: int = 1) -> dict[str, Any]:
    body = _deployment(name, replicas)
    body["metadata"]["ownerReferences"] = [
        {"apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment", "name": "o", "uid": uid,
         "controller": True}]
    return body


async def test_ensure_never_writes_an_object_another_owner_controls_or_no_owner_at_all(k8s: EmulatorHandle) -> None:
    kube = _client(k8s)
    try:
        k8s.create(_deployment("theirs"))  # another application's, no owner reference
        k8s.create(_owned("other", "uid-other"))
        before = [k8s.get("apps/v1", "Deployment", n) for n in ("theirs", "other")]
        for name in ("theirs", "other"):
            for current in ("unknown", None):  # looked up by ensure, or "not listed" (create answers 409)
                with pytest.raises(NameConflictError) as caught:
                    await kube.ensure(_owned(name, "uid-mine", replicas=5), current)
                assert f"Deployment default/{name} already exists" in str(caught.value)
        assert [k8s.get("apps/v1", "Deployment", n) for n in ("theirs", "other")] == before
        assert await kube.ensure(_owned("mine", "uid-mine")) == "created"
        assert await kube.ensure(_owned("mine", "uid-mine", replicas=2)) == "updated"
    finally:
        await kube.close()


async def test_a_patch_is_refused_if_the_object_changed_since_it_was_checked(k8s: EmulatorHandle) -> None:
    kube = _client(k8s)
    try:
        await kube.ensure(_owned("mine", "uid-mine"))
        checked = k8s.get("apps/v1", "Deployment", "mine")
        k8s.patch("apps/v1", "Deployment", "mine", {"metadata": {"labels": {"touched": "yes"}}})
        with pytest.raises(ApiUnavailable, match="409"):  # retried with a fresh look, never blind
            await kube.ensure(_owned("mine", "uid-mine", replicas=4), checked)
        assert k8s.get("apps/v1", "Deployment", "mine")["spec"]["replicas"] == 1
    finally:
        await kube.close()


async def test_a_delete_with_a_uid_removes_only_that_object(k8s: EmulatorHandle) -> None:
    kube = _client(k8s)
    try:
        k8s.create(_deployment("d"))
        assert not await kube.delete(DEPLOYMENTS, "default", "d", uid="uid-of-an-earlier-d")
        assert k8s.find("apps/v1", "Deployment", "d") is not None
        uid = k8s.get("apps/v1", "Deployment", "d")["metadata"]["uid"]
        assert await kube.delete(DEPLOYMENTS, "default", "d", uid=uid)
        assert k8s.find("apps/v1", "Deployment", "d") is None
    finally:
        await kube.close()

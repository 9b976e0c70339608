"""coordination.k8s.io/v1 Leases, as leader election uses them: namespaced, optimistic concurrency."""

from __future__ import annotations

from typing import Any

import httpx

from modelops.emulator.testing import EmulatorHandle

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


def lease(holder: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "op"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "renewTime": "2026-11-30T20:00:00.000000Z"}}


def test_the_group_is_discoverable(api: httpx.Client) -> None:
    resources = api.get("/apis/coordination.k8s.io/v1").json()["resources"]
    leases = next(r for r in resources if r["name"] == "leases")
    assert (leases["kind"], leases["namespaced"]) == ("Lease", True)


def test_a_lease_is_created_and_read_in_its_namespace(api: httpx.Client) -> None:
    assert api.post(LEASES, json=lease("a")).status_code == 201
    got = api.get(f"{LEASES}/op").json()
    assert (got["metadata"]["namespace"], got["spec"]["holderIdentity"]) == ("default", "a")
    assert api.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/op").status_code == 404


def test_an_update_with_a_stale_resource_version_is_a_conflict(api: httpx.Client) -> None:
    created = api.post(LEASES, json=lease("a")).json()
    first = {**created, "spec": {**created["spec"], "holderIdentity": "b"}}
    second = {**created, "spec": {**created["spec"], "holderIdentity": "c"}}
    assert api.put(f"{LEASES}/op", json=first).status_code == 200
    refused = api.put(f"{LEASES}/op", json=second)  # the same resourceVersion, now stale
    assert refused.status_code == 409
    assert refused.json()["reason"] == "Conflict"
    assert api.get(f"{LEASES}/op").json()["spec"]["holderIdentity"] == "b"


def test_a_second_create_of_the_same_name_is_refused(api: httpx.Client) -> None:
    assert api.post(LEASES, json=lease("a")).status_code == 201
    assert api.post(LEASES, json=lease("b")).status_code == 409


def test_requests_are_recorded_with_their_client(k8s: EmulatorHandle, api: httpx.Client) -> None:
    api.get(LEASES, headers={"User-Agent": "modelops-operator/x_1"})
    assert any(r.user_agent == "modelops-operator/x_1" and r.path == LEASES for r in k8s.requests)

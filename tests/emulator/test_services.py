"""Services get a ClusterIP from the service network on create, immutable, freed on delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelops.emulator import services
from modelops.emulator.errors import ApiError
from modelops.emulator.testing import EmulatorHandle

SERVICES = "/api/v1/namespaces/default/services"


def svc(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 8080}], **spec}}


def test_each_service_gets_a_free_address_of_the_network_with_the_api_servers_defaults(k8s: EmulatorHandle) -> None:
    a, b = k8s.create(svc("a")), k8s.create(svc("b"))
    assert a["spec"]["clusterIP"] == "127.0.2.2"
    assert b["spec"]["clusterIP"] == "127.0.2.3"
    assert a["spec"]["clusterIPs"] == ["127.0.2.2"]
    assert a["spec"]["type"] == "ClusterIP"
    assert a["spec"]["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 8080}]
    k8s.delete("v1", "Service", "a")
    assert k8s.create(svc("c"))["spec"]["clusterIP"] == "127.0.2.2"  # freed, then reused


def test_the_address_may_not_change_and_an_update_without_it_keeps_it(api: httpx.Client, k8s: EmulatorHandle) -> None:
    created = k8s.create(svc("a"))
    ip = created["spec"]["clusterIP"]
    changed = api.patch(f"{SERVICES}/a", json={"spec": {"clusterIP": "127.0.2.99"}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert changed.status_code == 422
    assert "may not change once set" in changed.json()["message"]
    replaced = api.put(f"{SERVICES}/a", json=svc("a", ports=[{"port": 9090}]))
    assert replaced.status_code == 200
    assert replaced.json()["spec"]["clusterIP"] == ip


def test_a_requested_address_must_be_in_range_and_free(k8s: EmulatorHandle) -> None:
    assert k8s.create(svc("a", clusterIP="127.0.2.50"))["spec"]["clusterIP"] == "127.0.2.50"
    with pytest.raises(ApiError, match="provided IP is already allocated"):
        k8s.create(svc("b", clusterIP="127.0.2.50"))
    with pytest.raises(ApiError, match=r"not in the valid range. The range of valid IPs is 127.0.2.0/24"):
        k8s.create(svc("c", clusterIP="10.0.0.1"))
    assert k8s.create(svc("headless", clusterIP="None"))["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in k8s.create(svc("ext", type="ExternalName", externalName="example.com"))["spec"]


def test_a_full_network_is_an_internal_error() -> None:
    with pytest.raises(ApiError, match="range is full"):
        services.allocate(["10.0.0.2"], "10.0.0.0/30")

"""Services get a ClusterIP from the service network on create, immutable, freed on delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelops.emulator import services
from modelops.emulator.cluster import Cluster
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


def test_many_services_get_unique_addresses_and_deleted_ones_are_reused_lowest_first() -> None:
    # The allocator (not a scan of every Service per create): still unique, still lowest free first.
    cluster = Cluster(service_network="10.96.0.0/20")
    rt = cluster.resource("v1", "Service")
    made = [cluster.create(rt, "default", svc(f"s{i}")) for i in range(600)]
    ips = [s["spec"]["clusterIP"] for s in made]
    assert len(set(ips)) == 600
    assert ips[:2] == ["10.96.0.2", "10.96.0.3"]
    assert ips[-1] == "10.96.2.89"
    for name in ("s300", "s7", "s599"):
        cluster.delete(rt, "default", name)
    again = [cluster.create(rt, "default", svc(f"t{i}"))["spec"]["clusterIP"] for i in range(4)]
    assert again == ["10.96.0.9", "10.96.1.46", "10.96.2.89", "10.96.2.90"]


def test_addresses_asked_for_dry_runs_and_refusals_are_accounted_for() -> None:
    cluster = Cluster(service_network="10.96.0.0/24")
    rt = cluster.resource("v1", "Service")
    assert cluster.create(rt, "default", svc("a", clusterIP="10.96.0.3"))["spec"]["clusterIP"] == "10.96.0.3"
    assert cluster.create(rt, "default", svc("dry"), dry_run=True)["spec"]["clusterIP"] == "10.96.0.2"
    with pytest.raises(ApiError, match="provided IP is already allocated"):
        cluster.create(rt, "default", svc("b", clusterIP="10.96.0.3"))
    assert [cluster.create(rt, "default", svc(n))["spec"]["clusterIP"] for n in ("c", "d")] == [
        "10.96.0.2", "10.96.0.4"]  # the dry run took nothing; the requested .3 is skipped
    cluster.delete(rt, "default", "a")
    assert cluster.create(rt, "default", svc("e", clusterIP="10.96.0.3"))["spec"]["clusterIP"] == "10.96.0.3"


def test_a_new_service_network_counts_the_services_already_stored() -> None:
    cluster = Cluster()
    rt = cluster.resource("v1", "Service")
    cluster.create(rt, "default", svc("a", clusterIP="127.0.2.2"))
    cluster.service_network = "127.0.2.0/23"  # as the benchmark sets it, after the cluster exists
    assert cluster.create(rt, "default", svc("b"))["spec"]["clusterIP"] == "127.0.2.3"


def test_the_allocator_skips_taken_addresses_and_says_when_the_range_is_full() -> None:
    allocator = services.Allocator("10.0.0.0/29")  # hosts .2 to .6 (.1 left free)
    for address in ("10.0.0.2", "10.0.0.4"):
        allocator.take(address)
    assert allocator.lowest_free() == "10.0.0.3"
    allocator.take("10.0.0.3")
    assert allocator.lowest_free() == "10.0.0.5"
    allocator.release("10.0.0.2")
    assert allocator.lowest_free() == "10.0.0.2"
    assert "10.0.0.4" in allocator
    assert "10.0.0.2" not in allocator
    for address in ("10.0.0.2", "10.0.0.5", "10.0.0.6"):
        allocator.take(address)
    with pytest.raises(ApiError, match="range is full"):
        allocator.lowest_free()

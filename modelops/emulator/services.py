"""Service admission as the API server does it: defaults and the ClusterIP allocator.

Every Service of type ClusterIP, NodePort or LoadBalancer gets a free address of the
service network when it is created (or keeps the one it asks for, if that is in range and
free); the address never changes afterwards (422 `may not change once set`), an update that
leaves it out keeps it, and it is free again once the Service is deleted. The network
defaults to 127.0.2.0/24: on loopback, so the sandbox can make every ClusterIP answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from modelops.emulator import errors
from modelops.emulator.errors import ApiError

SERVICE_NETWORK = "127.0.2.0/24"


def _invalid(name: str, path: str, message: str) -> ApiError:
    return errors.invalid("Service", "", name, [("FieldValueInvalid", path, message)])


def admit(service: dict[str, Any], old: dict[str, Any] | None, in_use: Iterable[str],
          network: str = SERVICE_NETWORK) -> dict[str, Any]:
    """The Service with the API server's defaults and its ClusterIP; 422 when the IP is wrong."""
    name = str(service["metadata"].get("name", ""))
    spec = service.setdefault("spec", {})
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if kind == "ExternalName":
        return service
    old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
    wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
    if old_ip:
        if wanted and wanted != old_ip:
            raise _invalid(name, "spec.clusterIPs[0]",
                           f'Invalid value: []string{{"{wanted}"}}: may not change once set')
        wanted = old_ip
    elif wanted and wanted != "None":
        subnet = ipaddress.ip_network(network)
        try:
            inside = ipaddress.ip_address(wanted) in subnet
        except ValueError:
            raise _invalid(name, "spec.clusterIPs[0]",
                           f'Invalid value: "{wanted}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'
                           ) from None
        if not inside:
            raise _invalid(name, "spec.clusterIPs", f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP '
                           f"{wanted}: provided IP is not in the valid range. The range of valid IPs is {network}")
        if wanted in set(in_use):
            raise _invalid(name, "spec.clusterIPs", f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP '
                           f"{wanted}: provided IP is already allocated")
    elif not wanted:
        wanted = allocate(in_use, network)
    spec["clusterIP"] = wanted
    spec["clusterIPs"] = [wanted]
    if wanted != "None":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    return service


def allocate(in_use: Iterable[str], network: str = SERVICE_NETWORK) -> str:
    """The lowest free host address of the network (the first, .1, is left for the router
    of a real cluster's network; here it stays free for the sandbox to use as it likes)."""
    taken = set(in_use)
    # Lazily, as integers: a /16 has 65,534 hosts, and building them all per Service made
    # thousands of Services cost minutes (benchmarks/operator).
    subnet = ipaddress.ip_network(network)
    first, last = int(subnet.network_address) + 2, int(subnet.broadcast_address) - 1
    if subnet.num_addresses <= 2:  # /31, /32: every address is a host
        first, last = int(subnet.network_address) + 1, int(subnet.broadcast_address)
    for value in range(first, last + 1):
        address = str(ipaddress.ip_address(value))
        if address not in taken:
            return address
    raise ApiError(500, "InternalError", f"failed to allocate a serviceIP: range is full ({network})")

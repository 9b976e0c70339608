"""Service admission as the API server does it: defaults and the ClusterIP allocator.

Every Service of type ClusterIP, NodePort or LoadBalancer gets a free address of the
service network when it is created (or keeps the one it asks for, if that is in range and
free); the address never changes afterwards (422 `may not change once set`), an update that
leaves it out keeps it, and it is free again once the Service is deleted. The network
defaults to 127.0.2.0/24: on loopback, so the sandbox can make every ClusterIP answer.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable
from typing import Any

from modelops.emulator import errors
from modelops.emulator.errors import ApiError

SERVICE_NETWORK = "127.0.2.0/24"


def _invalid(name: str, path: str, message: str) -> ApiError:
    return errors.invalid("Service", "", name, [("FieldValueInvalid", path, message)])


class Allocator:
    """The ClusterIPs of one service network: which are taken, and the lowest free one, in O(log n).

    The API server keeps a bitmap of the range; here a set of taken addresses, the high-water
    mark ``_next`` (every address at or above it not taken is free) and a heap of the addresses
    freed below it. Asking for the lowest free address took a scan of every Service and of the
    range before, per create: creating N Services cost O(N^2) (benchmarks/operator, 3,000
    ModelDeployments). ``lowest_free`` does not take the address: the store's put does (through
    ``take``), so a dry run or a create refused later in admission leaks nothing.
    """

    def __init__(self, network: str = SERVICE_NETWORK) -> None:
        self.network = network
        subnet = ipaddress.ip_network(network)
        # The first host address (.1) is left free (see `allocate`); /31 and /32 have no such rule.
        self._first, self._last = int(subnet.network_address) + 2, int(subnet.broadcast_address) - 1
        if subnet.num_addresses <= 2:
            self._first, self._last = int(subnet.network_address) + 1, int(subnet.broadcast_address)
        self._taken: set[int] = set()
        self._next = self._first
        self._freed: list[int] = []  # heap; may hold addresses taken again since (skipped lazily)

    def _value(self, address: str) -> int | None:
        try:
            value = int(ipaddress.ip_address(address))
        except ValueError:
            return None
        return value if self._first <= value <= self._last else None

    def __contains__(self, address: object) -> bool:
        value = self._value(address) if isinstance(address, str) else None
        return value is not None and value in self._taken

    def take(self, address: str) -> None:
        value = self._value(address)
        if value is not None:
            self._taken.add(value)

    def release(self, address: str) -> None:
        value = self._value(address)
        if value is None or value not in self._taken:
            return
        self._taken.discard(value)
        if value < self._next:
            heapq.heappush(self._freed, value)

    def lowest_free(self) -> str:
        """The lowest free address (not taken: see the class doc); 500 when the range is full."""
        while self._freed and self._freed[0] in self._taken:
            heapq.heappop(self._freed)
        if self._freed:
            return str(ipaddress.ip_address(self._freed[0]))
        while self._next <= self._last and self._next in self._taken:
            self._next += 1
        if self._next > self._last:
            raise ApiError(500, "InternalError", f"failed to allocate a serviceIP: range is full ({self.network})")
        return str(ipaddress.ip_address(self._next))


def cluster_ip(service: dict[str, Any] | None) -> str | None:
    """The address a stored Service holds, if any (headless "None" and ExternalName hold none)."""
    ip = ((service or {}).get("spec") or {}).get("clusterIP")
    return ip if isinstance(ip, str) and ip and ip != "None" else None


def admit(service: dict[str, Any], old: dict[str, Any] | None, in_use: Iterable[str] | Allocator,
          network: str = SERVICE_NETWORK) -> dict[str, Any]:
    """The Service with the API server's defaults and its ClusterIP; 422 when the IP is wrong.

    ``in_use``: the addresses other Services hold; an ``Allocator`` of ``network`` also picks the
    free one (a plain iterable is scanned by ``allocate``)."""
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
        if wanted in (in_use if isinstance(in_use, Allocator) else set(in_use)):
            raise _invalid(name, "spec.clusterIPs", f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP '
                           f"{wanted}: provided IP is already allocated")
    elif not wanted:
        wanted = in_use.lowest_free() if isinstance(in_use, Allocator) else allocate(in_use, network)
    spec["clusterIP"] = wanted
    spec["clusterIPs"] = [wanted]
    if wanted != "None":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    return service


def allocate(in_use: Iterable[str], network: str = SERVICE_NETWORK) -> str:
    """The lowest free host address of the network (the first, .1, is left for the router
    of a real cluster's network; here it stays free for the sandbox to use as it likes).

    A scan of the range: the emulator itself uses an ``Allocator``."""
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

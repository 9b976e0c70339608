"""HTTPRoutes of the sandbox's Gateway, decided: the routing table and each route's status.

Pure functions of what the API lists (the Gateway, HTTPRoutes, Services, Pods): `plan()`
returns the table `gateway.py` serves and the `status.parents` entries it writes, and
`route_for()`, `pick()` and `mirrored()` decide one request. No I/O here, so every rule of
the Gateway API this gateway claims is tested without a server (tests/sandbox/test_gateway.py).

What is implemented, from Gateway API v1 (standard channel):

- parentRefs: a route is ours when a parentRef names this Gateway (group
  gateway.networking.k8s.io, kind Gateway, namespace defaulting to the route's). A
  `sectionName` or `port` that names no listener: Accepted=False `NoMatchingParent`;
  a namespace the listener's `allowedRoutes` does not admit (`Same`; `Selector` is not
  implemented): `NotAllowedByListeners`; no hostname shared with the listener's:
  `NoMatchingListenerHostname`. Routes of other Gateways are not touched.
- hostnames: exact and wildcard (`*.example.com` matches `a.example.com` and
  `a.b.example.com`, not `example.com`); the port of the Host header is ignored. As the
  spec orders routes, the most specific matching hostname wins (most characters of an
  exact hostname, then most characters), and, as Envoy-based gateways do, it wins as a
  virtual host: a request is matched against the rules of the routes of that hostname
  only, and none matching is a 404 (no fallback to a less specific hostname).
- matches: path `Exact` and `PathPrefix` (element-wise: `/abc` matches `/abc`, `/abc/`,
  `/abc/d`, not `/abcd`), `method`, `headers` and `queryParams` (`Exact` and
  `RegularExpression`, Python `re.fullmatch`). Precedence: exact path, longest prefix,
  method, most headers, most query params, then the oldest route, then `namespace/name`,
  then rule and match order. Path `RegularExpression`: Accepted=False `UnsupportedValue`.
- backendRefs: core Services in the route's namespace, by `port` (the Service's port);
  `weight` (default 1) is honoured exactly in expectation (`pick()`); weight 0 is never
  chosen; all weights 0 answers 500. Another kind: ResolvedRefs=False `InvalidKind`;
  another namespace: `RefNotPermitted` (ReferenceGrants are not implemented); a missing
  Service or port: `BackendNotFound`. An invalid backend keeps its share of the weight and
  that share answers 500, as the spec requires.
- filters: `RequestMirror` (`percent`, or `fraction`, default 100%; its backend resolved as
  above). Any other filter, and filters on a backendRef: Accepted=False `UnsupportedValue`.
- timeouts: `request` and `backendRequest` (the shorter bounds the forwarded request).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.conditions import Desired
from modelops.sandbox.proxy import endpoints

GROUP = "gateway.networking.k8s.io"
CONTROLLER = "modelops.dev/sandbox-gateway"
CLASS = "modelops-sandbox"

Address = tuple[str, int]
RouteKey = tuple[str, str]  # namespace, name


@dataclass(frozen=True)
class Listener:
    """The one HTTP listener of the sandbox's Gateway, as its spec says."""

    namespace: str  # the Gateway's
    gateway: str
    name: str = "http"
    port: int = 80
    hostname: str | None = None
    allowed_from: str = "Same"
    allowed_kinds: tuple[str, ...] = ("HTTPRoute",)


def listener_of(gateway: Mapping[str, Any], name: str = "http") -> Listener | None:
    """The listener `name` of a Gateway object (None when it has none of that name)."""
    meta = gateway.get("metadata") or {}
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        if listener.get("name") != name:
            continue
        allowed = listener.get("allowedRoutes") or {}
        kinds = tuple(str(k.get("kind")) for k in allowed.get("kinds") or []
                      if k.get("group", GROUP) == GROUP) if allowed.get("kinds") else ("HTTPRoute",)
        return Listener(namespace=str(meta.get("namespace", "default")), gateway=str(meta.get("name", "")),
                        name=name, port=int(listener.get("port", 80)), hostname=listener.get("hostname") or None,
                        allowed_from=str((allowed.get("namespaces") or {}).get("from", "Same")),
                        allowed_kinds=kinds)
    return None


# ---- what a request is matched on ---------------------------------------------------------


@dataclass(frozen=True)
class ValueMatch:
    name: str  # lower case for headers
    kind: str  # Exact | RegularExpression
    value: str

    def accepts(self, got: str | None) -> bool:
        if got is None:
            return False
        if self.kind == "Exact":
            return got == self.value
        return re.fullmatch(self.value, got) is not None


@dataclass(frozen=True)
class Match:
    path_type: str = "PathPrefix"
    path: str = "/"
    method: str | None = None
    headers: tuple[ValueMatch, ...] = ()
    query: tuple[ValueMatch, ...] = ()

    def accepts(self, path: str, method: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        if self.path_type == "Exact":
            if path != self.path:
                return False
        elif not path_has_prefix(path, self.path):
            return False
        if self.method is not None and method != self.method:
            return False
        return (all(h.accepts(headers.get(h.name)) for h in self.headers)
                and all(q.accepts(query.get(q.name)) for q in self.query))

    def rank(self) -> tuple[int, int, int, int, int]:
        """Smaller is more specific, in the spec's order of precedence."""
        return (0 if self.path_type == "Exact" else 1, -len(self.path), 0 if self.method else 1,
                -len(self.headers), -len(self.query))


def path_has_prefix(path: str, prefix: str) -> bool:
    """PathPrefix matching element by element; a trailing `/` of the prefix is ignored."""
    trimmed = prefix.rstrip("/")
    if not trimmed:
        return True
    return path == trimmed or path.startswith(trimmed + "/")


def hostname_matches(pattern: str, host: str) -> bool:
    """`*.example.com` matches one or more labels before `.example.com`; others match exactly."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def host_rank(hostnames: tuple[str, ...], host: str) -> tuple[int, int] | None:
    """How specifically `hostnames` match `host` (larger is more specific), None when they don't.

    (characters of a matching exact hostname, characters of the matching hostname), the
    spec's two criteria; a route without hostnames matches any host, least specifically.
    """
    if not hostnames:
        return (0, 0)
    ranks = [(0 if h.startswith("*.") else len(h), len(h)) for h in hostnames if hostname_matches(h, host)]
    return max(ranks) if ranks else None


# ---- where a request goes -----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One backendRef: a Service port, its weight, its ready endpoints or why it is invalid."""

    service: str  # namespace/name:port
    weight: int
    endpoints: tuple[Address, ...] = ()
    problem: str | None = None  # an invalid reference: its share of requests answers 500


@dataclass(frozen=True)
class Mirror:
    service: str
    numerator: int  # of `denominator` requests are mirrored
    denominator: int
    endpoints: tuple[Address, ...] = ()


@dataclass(frozen=True)
class Rule:
    route: RouteKey
    index: int
    targets: tuple[Target, ...]
    mirrors: tuple[Mirror, ...] = ()
    timeout_s: float | None = None


@dataclass(frozen=True)
class Entry:
    hostnames: tuple[str, ...]
    match: Match
    rule: Rule
    order: tuple[Any, ...]  # the full precedence key (match rank, route age, name, rule, match index)


@dataclass(frozen=True)
class Table:
    entries: tuple[Entry, ...] = ()  # most specific first

    def route_for(self, host: str, path: str, method: str = "GET", headers: Mapping[str, str] | None = None,
                  query: Mapping[str, str] | None = None) -> Rule | None:
        """The rule serving a request, or None (404). `headers` keys are lower case."""
        host = strip_port(host).lower()
        ranked = [(rank, e) for e in self.entries if (rank := host_rank(e.hostnames, host)) is not None]
        if not ranked:
            return None
        best = max(rank for rank, _ in ranked)
        for rank, entry in ranked:  # entries are in precedence order already
            if rank == best and entry.match.accepts(path, method, headers or {}, query or {}):
                return entry.rule
        return None


def strip_port(host: str) -> str:
    if host.startswith("["):  # [v6]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def pick(targets: Iterable[Target], rng: random.Random) -> Target | None:
    """A backend with probability weight/sum(weights); None when every weight is 0 (500)."""
    chosen = [t for t in targets if t.weight > 0]
    total = sum(t.weight for t in chosen)
    if total == 0:
        return None
    draw = rng.randrange(total)
    for target in chosen:
        if draw < target.weight:
            return target
        draw -= target.weight
    raise AssertionError("unreachable: draw < total")


def mirrored(mirror: Mirror, rng: random.Random) -> bool:
    """Whether this request is copied to the mirror: numerator/denominator of requests."""
    return mirror.numerator > 0 and rng.randrange(mirror.denominator) < mirror.numerator


# ---- building the table and the statuses ----------------------------------------------------


@dataclass
class _Findings:
    """What is wrong with one route: the first reason of each condition and every message."""

    accepted: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)
    refs: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ParentStatus:
    """One entry of a route's status.parents this gateway writes (conditions before merging)."""

    parent_ref: dict[str, Any]
    conditions: tuple[Desired, ...]


@dataclass(frozen=True)
class Plan:
    table: Table
    statuses: dict[RouteKey, tuple[ParentStatus, ...]]  # only routes naming this Gateway
    attached: int  # routes accepted on the listener (the Gateway's status.listeners[].attachedRoutes)


def names_gateway(ref: Mapping[str, Any], route_namespace: str, listener: Listener) -> bool:
    return (ref.get("group", GROUP) == GROUP and ref.get("kind", "Gateway") == "Gateway"
            and ref.get("namespace", route_namespace) == listener.namespace and ref.get("name") == listener.gateway)


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


def duration_s(text: str) -> float | None:
    """A Gateway API duration (`1h2m3s4ms`) in seconds; None for `0s`, which disables the timeout."""
    found = _DURATION.fullmatch(text)
    if not text or found is None:
        raise ValueError(f"{text!r} is not a Gateway API duration")
    hours, minutes, seconds, millis = (int(g or 0) for g in found.groups())
    total = hours * 3600 + minutes * 60 + seconds + millis / 1000
    return total or None


def _match(raw: Mapping[str, Any], where: str, findings: _Findings) -> Match | None:
    path = raw.get("path") or {}
    path_type = str(path.get("type", "PathPrefix"))
    if path_type not in ("Exact", "PathPrefix"):
        findings.accepted.append(("UnsupportedValue", f"{where}.path.type {path_type} is not supported by the "
                                  "sandbox gateway (Exact and PathPrefix are)"))
        return None
    values: dict[str, tuple[ValueMatch, ...]] = {}
    for key, lower in (("headers", True), ("queryParams", False)):
        seen: dict[str, ValueMatch] = {}
        for item in raw.get(key) or []:
            name = str(item.get("name", ""))
            name = name.lower() if lower else name
            kind = str(item.get("type", "Exact"))
            if kind not in ("Exact", "RegularExpression"):
                findings.accepted.append(("UnsupportedValue", f"{where}.{key} type {kind} is not supported"))
                return None
            if kind == "RegularExpression":
                try:
                    re.compile(str(item.get("value", "")))
                except re.error as exc:
                    findings.accepted.append(("UnsupportedValue", f"{where}.{key} {name}: invalid regular "
                                              f"expression: {exc}"))
                    return None
            seen.setdefault(name, ValueMatch(name, kind, str(item.get("value", ""))))  # later duplicates ignored
        values[key] = tuple(seen.values())
    method = raw.get("method")
    return Match(path_type=path_type, path=str(path.get("value", "/")), method=str(method) if method else None,
                 headers=values["headers"], query=values["queryParams"])


@dataclass(frozen=True)
class _Backends:
    """The Services (by namespace and name) and Pods that backendRefs resolve against."""

    services: Mapping[RouteKey, dict[str, Any]]
    pods: list[dict[str, Any]]


def _resolve(ref: Mapping[str, Any], route_namespace: str, where: str, backends: _Backends,
             findings: _Findings) -> tuple[str, tuple[Address, ...], str | None]:
    """(service label, ready endpoints, problem) of a backendRef or a mirror's backendRef."""
    name, namespace = str(ref.get("name", "")), str(ref.get("namespace", route_namespace))
    port = ref.get("port")
    label = f"{namespace}/{name}:{port}"
    group, kind = ref.get("group", ""), ref.get("kind", "Service")
    problem: tuple[str, str] | None = None
    if group not in ("", "core") or kind != "Service":
        problem = ("InvalidKind", f"{where} refers to {kind}.{group or 'core'}: only core Services are supported")
    elif namespace != route_namespace:
        problem = ("RefNotPermitted", f"{where} refers to namespace {namespace}: cross-namespace references need "
                   "a ReferenceGrant, which the sandbox gateway does not implement")
    elif (service := backends.services.get((namespace, name))) is None:
        problem = ("BackendNotFound", f"{where}: Service {namespace}/{name} not found")
    elif port is None or not any(p.get("port") == port for p in (service.get("spec") or {}).get("ports") or []):
        problem = ("BackendNotFound", f"{where}: Service {namespace}/{name} has no port {port}")
    else:
        ip = (service.get("spec") or {}).get("clusterIP")
        table = endpoints([service], backends.pods)
        if (str(ip), int(port)) not in table:
            problem = ("BackendNotFound", f"{where}: Service {namespace}/{name} has no ClusterIP "
                       "(headless and ExternalName Services are not supported)")
        else:
            return label, tuple(table[(str(ip), int(port))]), None
    findings.refs.append(problem)
    return label, (), problem[1]


def _rules(route: Mapping[str, Any], key: RouteKey, backends: _Backends,
           findings: _Findings) -> list[tuple[Rule, list[Match]]]:
    namespace = key[0]
    built = []
    for index, raw in enumerate((route.get("spec") or {}).get("rules") or [{}]):
        where = f"spec.rules[{index}]"
        matches = [_match(m, f"{where}.matches[{i}]", findings)
                   for i, m in enumerate(raw.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}])]
        targets = []
        for i, ref in enumerate(raw.get("backendRefs") or []):
            if ref.get("filters"):
                findings.accepted.append(("UnsupportedValue", f"{where}.backendRefs[{i}].filters are not supported "
                                          "by the sandbox gateway"))
            label, found, problem = _resolve(ref, namespace, f"{where}.backendRefs[{i}]", backends, findings)
            targets.append(Target(label, int(ref.get("weight", 1)), found, problem))
        mirrors = []
        for i, item in enumerate(raw.get("filters") or []):
            kind = item.get("type")
            if kind != "RequestMirror":
                findings.accepted.append(("UnsupportedValue", f"{where}.filters[{i}]: filter type {kind} is not "
                                          "supported by the sandbox gateway (RequestMirror is)"))
                continue
            spec = item.get("requestMirror") or {}
            fraction = spec.get("fraction") or {}
            numerator, denominator = ((int(spec["percent"]), 100) if "percent" in spec
                                      else (int(fraction.get("numerator", 100)), int(fraction.get("denominator", 100)))
                                      if fraction else (1, 1))
            if denominator < 1 or not 0 <= numerator <= denominator:
                findings.accepted.append(("UnsupportedValue", f"{where}.filters[{i}].requestMirror: fraction "
                                          f"{numerator}/{denominator} is not between 0 and 1"))
                continue
            label, found, problem = _resolve(spec.get("backendRef") or {}, namespace,
                                             f"{where}.filters[{i}].requestMirror.backendRef", backends, findings)
            if problem is None:  # an unresolved mirror is dropped from the data plane, as the spec says
                mirrors.append(Mirror(label, numerator, denominator, found))
        timeouts = raw.get("timeouts") or {}
        bounds = []
        for name in ("request", "backendRequest"):
            if name in timeouts:
                try:
                    bounds.append(duration_s(str(timeouts[name])))
                except ValueError as exc:
                    findings.accepted.append(("UnsupportedValue", f"{where}.timeouts.{name}: {exc}"))
        limits = [b for b in bounds if b is not None]
        rule = Rule(key, index, tuple(targets), tuple(mirrors), min(limits) if limits else None)
        built.append((rule, [m for m in matches if m is not None]))
    return built


def _effective_hostnames(route_hostnames: list[str], listener: Listener) -> tuple[str, ...] | None:
    """The route's hostnames that intersect the listener's (None: no intersection at all)."""
    if listener.hostname is None or not route_hostnames:
        return tuple(route_hostnames) if route_hostnames else ((listener.hostname,) if listener.hostname else ())
    kept = []
    for hostname in route_hostnames:
        if hostname == listener.hostname or hostname_matches(listener.hostname, hostname):
            kept.append(hostname)
        elif hostname_matches(hostname, listener.hostname):
            kept.append(listener.hostname)  # the route's wildcard is wider: the listener's name is the intersection
    return tuple(dict.fromkeys(kept)) or None


def _attach(ref: Mapping[str, Any], route_namespace: str, listener: Listener,
            route_hostnames: list[str]) -> tuple[str, str] | None:
    """Why a parentRef naming this Gateway cannot attach (reason, message), None when it can."""
    section, port = ref.get("sectionName"), ref.get("port")
    if section is not None and section != listener.name:
        return ("NoMatchingParent", f"Gateway {listener.namespace}/{listener.gateway} has no listener {section!r} "
                f"(it has {listener.name!r})")
    if port is not None and port != listener.port:
        return ("NoMatchingParent", f"Gateway {listener.namespace}/{listener.gateway} has no listener on port {port} "
                f"(it listens on {listener.port})")
    if "HTTPRoute" not in listener.allowed_kinds:
        return ("NotAllowedByListeners", f"listener {listener.name!r} does not allow HTTPRoutes")
    if listener.allowed_from == "Same" and route_namespace != listener.namespace:
        return ("NotAllowedByListeners", f"listener {listener.name!r} allows routes from namespace "
                f"{listener.namespace} only")
    if listener.allowed_from == "Selector":
        return ("NotAllowedByListeners", "allowedRoutes.namespaces.from Selector is not implemented by the sandbox "
                "gateway (use Same or All)")
    if _effective_hostnames(route_hostnames, listener) is None:
        return ("NoMatchingListenerHostname", f"no hostname of the route matches the listener's {listener.hostname}")
    return None


def _conditions(attach_problem: tuple[str, str] | None, findings: _Findings) -> tuple[Desired, ...]:
    if attach_problem is not None:
        accepted = Desired("Accepted", "False", *attach_problem)
    elif findings.accepted:
        accepted = Desired("Accepted", "False", findings.accepted[0][0], "; ".join(m for _, m in findings.accepted))
    else:
        accepted = Desired("Accepted", "True", "Accepted", "Route is accepted by the sandbox gateway")
    if findings.refs:
        refs = Desired("ResolvedRefs", "False", findings.refs[0][0], "; ".join(m for _, m in findings.refs))
    else:
        refs = Desired("ResolvedRefs", "True", "ResolvedRefs", "All references are resolved")
    return (accepted, refs)


def plan(listener: Listener | None, routes: Iterable[dict[str, Any]], services: Iterable[dict[str, Any]],
         pods: Iterable[dict[str, Any]]) -> Plan:
    """The routing table of the listener and the status.parents entries of the routes naming it."""
    if listener is None:
        return Plan(Table(), {}, 0)
    backends = _Backends({(str(s["metadata"].get("namespace", "")), str(s["metadata"]["name"])): s for s in services},
                         list(pods))
    entries: list[Entry] = []
    statuses: dict[RouteKey, tuple[ParentStatus, ...]] = {}
    attached = 0
    for route in routes:
        meta = route.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        spec = route.get("spec") or {}
        ours = [ref for ref in spec.get("parentRefs") or [] if names_gateway(ref, key[0], listener)]
        if not ours:
            continue  # another Gateway's route: not ours to serve or to write
        hostnames = [str(h) for h in spec.get("hostnames") or []]
        findings = _Findings()
        rules = _rules(route, key, backends, findings)
        parents = []
        serves = False
        for ref in ours:
            problem = _attach(ref, key[0], listener, hostnames)
            parents.append(ParentStatus(dict(ref), _conditions(problem, findings)))
            serves = serves or (problem is None and not findings.accepted)
        statuses[key] = tuple(parents)
        if not serves:
            continue
        attached += 1
        effective = _effective_hostnames(hostnames, listener) or ()
        created = str(meta.get("creationTimestamp", ""))
        for rule, matches in rules:
            for i, match in enumerate(matches):
                entries.append(Entry(effective, match, rule, (match.rank(), created, f"{key[0]}/{key[1]}",
                                                              rule.index, i)))
    entries.sort(key=lambda e: e.order)
    return Plan(Table(tuple(entries)), statuses, attached)

"""Label and field selectors, as `?labelSelector=` and `?fieldSelector=` carry them.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
Field selectors: `metadata.name` and `metadata.namespace` for every kind, plus the fields
the API server indexes for some kinds (an Event's `involvedObject.*`, which `kubectl
describe` uses; a Pod's `status.phase`...), with `=`, `==`, `!=`; any other field is a
400, as there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from modelops.emulator.errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
FIELDS = ("metadata.name", "metadata.namespace")
_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
KIND_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "events"): (*(f"involvedObject.{f}" for f in _REFERENCE), "reason", "reportingComponent", "source",
                     "type"),
    ("events.k8s.io", "events"): (*(f"regarding.{f}" for f in _REFERENCE), "reason", "reportingController",
                                  "type"),
    ("", "pods"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                   "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("batch", "jobs"): ("status.successful",),
}


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":  # a core Event's `source` selector means its component
        path = "source.component"
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses: `a in (x,y),b` is two terms."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [t for t in (t.strip() for t in terms) if t]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    eq = _EQ_RE.match(term)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET_RE.match(term)
    if not match:
        raise bad_request(f'unable to parse requirement: invalid label selector term "{term}"')
    negated, key, op, values_text = match.groups()
    if op:
        if negated:
            raise bad_request(f'unable to parse requirement: "!" cannot be combined with "{op}" in "{term}"')
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def equalities(text: str | None) -> list[tuple[str, str]]:
    """The `k=v` / `k==v` terms of a label selector: what an index can answer before the predicate."""
    pairs: list[tuple[str, str]] = []
    for term in _split_terms(text or ""):
        eq = _EQ_RE.match(term)
        if eq and eq.group(2) != "!=":
            pairs.append((eq.group(1), eq.group(3)))
    return pairs


def label_selector(text: str | None) -> Predicate:
    if not text:
        return lambda obj: True
    terms = [_label_term(term) for term in _split_terms(text)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return matches


def field_selector(text: str | None, kind: tuple[str, str] = ("", "")) -> Predicate:
    """A predicate for `?fieldSelector=`; `kind` is the (group, plural) whose extra fields apply."""
    if not text:
        return lambda obj: True
    supported = FIELDS + KIND_FIELDS.get(kind, ())
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(text):
        match = _EQ_RE.match(term)
        if not match:
            raise bad_request(f'invalid field selector "{term}": only =, == and != are supported')
        path, op, value = match.groups()
        if path not in supported:
            raise bad_request(f'field label not supported: "{path}" (supported: {", ".join(supported)})')
        checks.append((path, op != "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) == equal for path, equal, value in checks)

    return matches

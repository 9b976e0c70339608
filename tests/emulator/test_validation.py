"""Custom resources validated against the CRD's schema and x-kubernetes-validations rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelops.emulator import rules
from tests.emulator.conftest import WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}


def causes(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["kind"], body["reason"]) == ("Status", "Invalid")
    return [(c["field"], c["message"]) for c in body["details"]["causes"]]


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({"size": "big"}, "spec.size", 'Invalid value: "big": spec.size in body must be of type integer: "big"'),
    ({"size": 0}, "spec.size", "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
    ({"size": 11}, "spec.size", "Invalid value: 11: spec.size in body should be less than or equal to 10"),
    ({"size": 1, "color": "pink"}, "spec.color",
     'Unsupported value: "pink": supported values: "red", "green", "blue"'),
    ({"size": 1, "label": "Bad_Label"}, "spec.label",
     "Invalid value: \"Bad_Label\": spec.label in body should match '^[a-z][a-z0-9-]*$'"),
    ({"size": 1, "label": "much-too-long-label"}, "spec.label", "Too long: may not be more than 12 bytes"),
    ({"size": 1, "tags": ["a", "b", "c", "d"]}, "spec.tags", "Too many: 4: must have at most 3 items"),
    ({"color": "red"}, "spec.size", "Required value"),
])
def test_schema_violations_are_422_naming_the_field(api: httpx.Client, spec: dict[str, Any], field: str,
                                                     message: str) -> None:
    body = widget()
    body["spec"] = spec
    assert (field, message) in causes(api.post(WIDGETS, json=body))


def test_the_message_names_kind_object_and_field(api: httpx.Client) -> None:
    response = api.post(WIDGETS, json=widget(size=11))
    assert response.json()["message"].startswith('Widget.test.modelops.dev "w1" is invalid: spec.size: ')


def test_updates_are_validated_too(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    assert causes(api.patch(f"{WIDGETS}/w1", json={"spec": {"size": 99}}, headers=MERGE))[0][0] == "spec.size"
    assert api.get(f"{WIDGETS}/w1").json()["spec"]["size"] == 3


def test_status_is_validated(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    bad = {"status": {"conditions": [{"type": "Ready", "status": "Maybe"}]}}
    fields = [f for f, _ in causes(api.patch(f"{WIDGETS}/w1/status", json=bad, headers=MERGE))]
    assert fields == ["status.conditions[0].status"]


def test_date_time_format_is_checked(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget())
    condition = {"type": "Ready", "status": "True", "lastTransitionTime": "yesterday"}
    bad = api.patch(f"{WIDGETS}/w1/status", json={"status": {"conditions": [condition]}}, headers=MERGE)
    assert causes(bad) == [("status.conditions[0].lastTransitionTime",
                            'Invalid value: "yesterday": status.conditions[0].lastTransitionTime in body must be of '
                            'type date-time: "yesterday"')]
    condition["lastTransitionTime"] = "2026-11-27T10:05:00Z"
    good = api.patch(f"{WIDGETS}/w1/status", json={"status": {"conditions": [condition]}}, headers=MERGE)
    assert good.status_code == 200


def test_immutability_rule_rejects_changes_with_its_message(api: httpx.Client) -> None:
    api.post(WIDGETS, json=widget(identity={"serial": "a1"}))
    response = api.patch(f"{WIDGETS}/w1", json={"spec": {"identity": {"serial": "b2"}}}, headers=MERGE)
    assert ("spec.identity", 'Invalid value: "object": identity is immutable') in causes(response)
    same = api.patch(f"{WIDGETS}/w1", json={"spec": {"identity": {"serial": "a1"}, "size": 4}}, headers=MERGE)
    assert same.status_code == 200


def test_transition_rules_do_not_apply_on_create(api: httpx.Client) -> None:
    assert api.post(WIDGETS, json=widget(identity={"serial": "x"})).status_code == 201


def test_defaults_are_filled_in(api: httpx.Client) -> None:
    assert api.post(WIDGETS, json=widget()).json()["spec"]["color"] == "red"


def test_unknown_fields_are_pruned_or_rejected_when_strict(api: httpx.Client) -> None:
    pruned = api.post(WIDGETS, json=widget(bogus=1)).json()
    assert "bogus" not in pruned["spec"]
    strict = api.post(WIDGETS, params={"fieldValidation": "Strict"}, json=widget("w2", bogus=1))
    assert strict.status_code == 400
    assert 'unknown field "spec.bogus"' in strict.json()["message"]


def test_preserve_unknown_fields_keeps_them(api: httpx.Client) -> None:
    created = api.post(WIDGETS, json=widget(extra={"anything": {"goes": [1]}})).json()
    assert created["spec"]["extra"] == {"anything": {"goes": [1]}}


@pytest.mark.parametrize(("rule", "self_value", "old", "expected"), [
    ("self == oldSelf", {"a": 1}, {"a": 1}, True),
    ("self == oldSelf", {"a": 1}, {"a": 2}, False),
    ("!has(oldSelf.x) || has(self.x)", {}, {"x": 1}, False),
    ("self.min <= self.max", {"min": 1, "max": 2}, None, True),
    ("self.steps.all(s, s.weight > 0 && s.weight <= 100)", {"steps": [{"weight": 10}, {"weight": 0}]}, None, False),
    ("self.names.exists(n, n.startsWith('x'))", {"names": ["a", "xb"]}, None, True),
    ("size(self.items) <= 2 ? true : false", {"items": [1, 2, 3]}, None, False),
    ("self.mode in ['a', 'b'] && self.name.matches('^[a-z]+$')", {"mode": "a", "name": "ok"}, None, True),
    # What our Gateway API CRDs use: filter(), raw triple-quoted regexes, duration().
    ("self.filter(f, f.type == 'A').size() <= 1", [{"type": "A"}, {"type": "B"}], None, True),
    ("self.filter(f, f.type == 'A').size() <= 1", [{"type": "A"}, {"type": "A"}], None, False),
    ('self.matches(r"""^[a-z]+\\d$""")', "ab1", None, True),
    ('self.matches(r"""^[a-z]+\\d$""")', "ab", None, False),
    ("r'a\\n' != 'a\\n' && r'a\\n'.size() == 3", None, None, True),
    ("duration(self.a) > duration(self.b)", {"a": "1m30s", "b": "90s"}, None, False),
    ("duration(self.a) > duration(self.b)", {"a": "1h", "b": "59m59.5s"}, None, True),
    ("duration(self.a) < duration('1s')", {"a": "500ms"}, None, True),
    # What our HTTPRoute CRD adds: a macro on a list literal, booleans compared with ==.
    ("['A', 'B'].all(t, self.filter(f, f.type == t).size() <= 1)", [{"type": "A"}, {"type": "B"}], None, True),
    ("['A', 'B'].all(t, self.filter(f, f.type == t).size() <= 1)", [{"type": "B"}, {"type": "B"}], None, False),
    ("(self.type == 'A') == has(self.a)", {"type": "B", "a": {}}, None, False),
    ("(self.type == 'A') == has(self.a)", {"type": "B"}, None, True),
])
def test_rule_evaluator(rule: str, self_value: Any, old: Any, expected: bool) -> None:
    assert rules.evaluate(rule, self_value, old) is expected


def test_unsupported_rules_raise() -> None:
    with pytest.raises(rules.RuleError):
        rules.evaluate("self.quantity.isGreaterThan(1)", {"quantity": 1})


def test_an_invalid_duration_is_an_error_naming_it() -> None:
    with pytest.raises(rules.RuleError, match="invalid duration '10 seconds'"):
        rules.evaluate("duration(self) > duration('0s')", "10 seconds")

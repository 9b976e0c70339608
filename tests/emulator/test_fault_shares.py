"""Fault injection over a whole run: a share of a client's writes fails until cleared, and a
hook puts another writer between a client's read and its write."""

from __future__ import annotations

import httpx
import pytest

from modelops.emulator.faults import WRITES
from modelops.emulator.testing import EmulatorHandle
from tests.emulator.conftest import WIDGET_API, WIDGETS, widget

MERGE = {"Content-Type": "application/merge-patch+json"}


def _patch(api: httpx.Client, size: int) -> int:
    return api.patch(f"{WIDGETS}/w1", json={"spec": {"size": size}}, headers=MERGE).status_code


def test_every_nth_write_fails_until_cleared_and_reads_pass(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    conflicts = k8s.emulator.faults.add(WRITES, r"/widgets", status=409, every=3, times=None)
    codes = [_patch(api, size) for size in range(1, 10)]
    assert codes == [200, 200, 409] * 3
    assert all(api.get(f"{WIDGETS}/w1").status_code == 200 for _ in range(4))  # GET is not a write
    assert (conflicts.hits, conflicts.seen) == (3, 9)
    assert conflicts in k8s.emulator.faults.pending  # never used up
    k8s.emulator.faults.clear()
    assert [_patch(api, size) for size in range(1, 4)] == [200, 200, 200]


def test_a_later_rule_counts_only_what_earlier_rules_let_through(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    k8s.emulator.faults.add(["PATCH", "DELETE"], r"/widgets/w1$", status=409, every=2, times=None)
    k8s.emulator.faults.add("PATCH", r"/widgets/w1$", status=500, every=2, times=2)
    # the 409 rule fails patches 2, 4, 6, 8; the 500 rule sees 1, 3, 5, 7 and fails 3 and 7 (then is used up)
    assert [_patch(api, size) for size in range(1, 9)] == [200, 409, 500, 409, 200, 409, 500, 409]
    assert api.delete(f"{WIDGETS}/w1").status_code == 200  # the 409 rule's 9th request: 9 is odd


def test_a_hook_writes_between_a_clients_read_and_its_write(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    read = api.get(f"{WIDGETS}/w1").json()
    hook = k8s.emulator.faults.before(
        "PUT", r"/widgets/w1$", lambda: k8s.patch(WIDGET_API, "Widget", "w1", {"spec": {"size": 7}}))
    answer = api.put(f"{WIDGETS}/w1", json={**read, "spec": {"size": 5}})
    assert answer.status_code == 409  # the hook's write moved the resourceVersion the client read
    assert api.get(f"{WIDGETS}/w1").json()["spec"]["size"] == 7
    assert hook.hits == 1
    assert not k8s.emulator.faults.pending  # a hook is used up like a rule
    assert api.put(f"{WIDGETS}/w1", json={**api.get(f"{WIDGETS}/w1").json(), "spec": {"size": 5}}).status_code == 200


def test_bad_share_rules_are_refused(k8s: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="every must be at least 1"):
        k8s.emulator.faults.add("GET", "/", every=0)
    with pytest.raises(ValueError, match="at least one HTTP method"):
        k8s.emulator.faults.add([], "/")
    with pytest.raises(ValueError, match="times must be at least 1"):
        k8s.emulator.faults.before("GET", "/", lambda: None, times=0)

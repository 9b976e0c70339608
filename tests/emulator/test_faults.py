"""Fault injection: the next N matching requests fail with a chosen status."""

from __future__ import annotations

import httpx
import pytest

from modelops.emulator.testing import EmulatorHandle
from tests.emulator.conftest import WIDGETS, widget


def test_next_n_matching_requests_fail_then_pass(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    k8s.fail_next("GET", r"/widgets/w1$", status=500, times=2)
    assert api.get(WIDGETS).status_code == 200  # the path does not match
    first, second, third = (api.get(f"{WIDGETS}/w1") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.json()["reason"] == "InternalError"


def test_conflicts_and_retry_after(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    k8s.fail_next("PATCH", r"/status$", status=409)
    k8s.fail_next("*", r"/widgets", status=503, retry_after=2)
    conflict = api.patch(f"{WIDGETS}/w1/status", json={"status": {}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert (conflict.status_code, conflict.json()["reason"]) == (409, "Conflict")
    busy = api.get(WIDGETS)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "2"
    assert busy.json()["details"]["retryAfterSeconds"] == 2


def test_faulted_requests_change_nothing(api: httpx.Client, k8s: EmulatorHandle) -> None:
    k8s.fail_next("POST", r"/widgets$", status=500)
    assert api.post(WIDGETS, json=widget()).status_code == 500
    assert api.get(f"{WIDGETS}/w1").status_code == 404


def test_requests_are_recorded(api: httpx.Client, k8s: EmulatorHandle) -> None:
    api.post(WIDGETS, json=widget())
    assert (k8s.requests[-1].method, k8s.requests[-1].path, k8s.requests[-1].status) == ("POST", WIDGETS, 201)


def test_bad_rules_are_refused(k8s: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="times must be at least 1"):
        k8s.fail_next("GET", "/", times=0)
    with pytest.raises(ValueError, match="error status"):
        k8s.fail_next("GET", "/", status=200)

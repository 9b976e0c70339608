"""The source interface's pure parts: which listed pods get scraped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from modelops.operator.analysis.sources import PodTarget, Query, pod_targets


def pod(name: str, phase: str = "Running", ip: str | None = "10.0.0.1", **meta: object) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"modelops.dev/version": "v2"}, **meta},
        "spec": {"containers": [{"name": "serve", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": phase, "podIP": ip},
    }


def test_running_pods_with_an_ip_not_being_deleted_are_scraped() -> None:
    listed: list[dict[str, Any]] = [
        pod("b"),
        pod("a", ip="10.0.0.2"),
        pod("pending", phase="Pending", ip=None),
        pod("no-ip", ip=None),
        pod("leaving", deletionTimestamp="2026-11-30T12:00:00Z"),
        {"metadata": {"name": "bare"}, "status": {"phase": "Running", "podIP": "10.0.0.9"}},
    ]
    assert pod_targets(listed) == (
        PodTarget("a", "10.0.0.2", "v2", 8080),
        PodTarget("b", "10.0.0.1", "v2", 8080),
        PodTarget("bare", "10.0.0.9", None, None),
    )


def test_a_query_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        Query("default", "churn", "churn", "v1", "v2", timedelta(0))

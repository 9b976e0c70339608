"""A canary under faults ends where the same canary ends without them, and then writes nothing.

Each test runs one canary (two steps, 1 s analysis interval) twice on fresh emulators: once
clean, once with faults injected from the operator's start to the end: one write in four to
the ModelDeployment, its status and its children answered 409 Conflict and one in five of
the rest 500 (and the promotion's first delete of v1's Service 500, right after its status
write); one single-object read or list in seven 503; every watch stream dropped (ended or
cut) every 0.3 s and one watch request in three refused. The end states must be equal:
phase, stable and candidate, status.weight, the Progressing reason, the history entries
(each once; when, and on how many samples, aside), the children (one Deployment per
version, each owned, with its replicas), Service ``churn``'s selector, and how many
lifecycle Events were posted. Once settled, the operator makes no write for four analysis
intervals (and, with ``resync_s=1``, four periodic resyncs), counted at the emulator.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from modelops.emulator.faults import WRITES, Fault
from modelops.emulator.testing import EmulatorHandle

from .canary_cluster import CANARY, Traffic, good_traffic, serving_replicas
from .conftest import Artifact
from .harness import (
    MV_API,
    create_versions,
    event_messages,
    get_mdep,
    has_condition,
    model_deployment,
    operator_emulator,
    running_operator,
    status_of,
)

pytestmark = pytest.mark.integration

OURS = r"/namespaces/default/(modeldeployments|deployments|services)(/|$)"
READS = r"/namespaces/default/(modeldeployments|deployments|services|pods)(/[^/]+)?$"
LIFECYCLE = ("RolloutStarted", "StepPassed", "Promoted", "RolledBack")
QUIET_S = 4.0  # four analysis intervals (CANARY's is 1 s)


def bad_candidate(version: str) -> dict[str, Any]:
    """v2 answers one request in ten with a 5xx: errorRate fails at step 1."""
    return {"ok": 18, "errors": 2, "outputs": (10, 10, 0)} if version == "churn-v2" else good_traffic(version)


@contextmanager
def _faults(k8s: EmulatorHandle) -> Iterator[list[Fault]]:
    """Conflicts, server errors and dropped watches, from now until the block ends."""
    faults = k8s.emulator.faults
    rules = [
        # The promotion's first try deletes v2's predecessor after writing status: that delete fails.
        faults.add("DELETE", r"/services/churn-churn-v1$", status=500),
        faults.add(WRITES, OURS, status=409, every=4, times=None),
        faults.add(WRITES, OURS, status=500, every=5, times=None),
        faults.add("GET", READS, status=503, every=7, times=None),
        faults.add("GET", r"[?&]watch=(true|1)", status=500, every=3, times=None, with_query=True),
    ]
    stop = threading.Event()
    dropped: list[int] = []

    def drop() -> None:
        abort = False
        while not stop.wait(0.3):
            dropped.append(k8s.drop_watches(abort=abort))
            abort = not abort

    dropper = threading.Thread(target=drop, name="watch-dropper", daemon=True)
    dropper.start()
    try:
        yield rules
    finally:
        stop.set()
        dropper.join(10)
        faults.clear()
    assert sum(dropped) > 0, "no watch stream was ever dropped"


def _children(k8s: EmulatorHandle) -> list[tuple[str, str, str, int | None]]:
    """(kind, name, controlling owner, replicas) of every Deployment and Service."""
    found = [*k8s.list("apps/v1", "Deployment", "default"), *k8s.list("v1", "Service", "default")]
    out = []
    for child in found:
        owners = [f"{r['kind']}/{r['name']}" for r in child["metadata"].get("ownerReferences") or ()
                  if r.get("controller")]
        replicas = child["spec"].get("replicas") if child["kind"] == "Deployment" else None
        out.append((str(child["kind"]), str(child["metadata"]["name"]), ",".join(owners), replicas))
    return sorted(out)


def _end_state(k8s: EmulatorHandle) -> dict[str, Any]:
    obj = get_mdep(k8s)
    status = status_of(obj)
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    return {
        "phase": status.get("phase"),
        "stable": status.get("stable"),
        "candidate": status.get("candidate"),
        "weight": status.get("weight"),
        "progressing": progressing["reason"],
        "history": [_comparable(entry) for entry in status.get("history") or ()],
        "children": _children(k8s),
        "selector": k8s.get("v1", "Service", "churn")["spec"]["selector"],
        "action": (obj["metadata"].get("annotations") or {}).get("modelops.dev/action"),
        # each transition announced once, whatever failed after its status was written
        "events": {reason: len(event_messages(k8s, reason)) for reason in LIFECYCLE},
    }


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    """A history entry without what differs between two runs of the same rollout: when it
    happened, and how many requests the analysis saw (``28 of 280 candidate requests``)."""
    out = {k: v for k, v in entry.items() if k != "at"}
    out["reason"] = re.sub(r"\b\d+ of \d+\b", "n of m", str(entry.get("reason", "")))
    return out


def _writes_since(k8s: EmulatorHandle, start: float) -> list[str]:
    return [f"{r.method} {r.path} -> {r.status}" for r in k8s.requests if r.at >= start and r.method in WRITES]


def _run(tmp_path: Path, artifacts: tuple[Artifact, Artifact], traffic: Traffic, settled: Callable[
         [EmulatorHandle, dict[str, Any]], bool], *, faulty: bool) -> tuple[dict[str, Any], list[str], int]:
    """One canary from v1 to v2 on a fresh emulator: (end state, writes once settled, faults met)."""
    timeout = 120.0 if faulty else 60.0
    met = 0
    with operator_emulator(tmp_path) as k8s, serving_replicas(k8s) as replicas:
        replicas.traffic = traffic
        create_versions(k8s, artifacts)
        k8s.create(model_deployment("churn-v1", strategy=CANARY))
        with running_operator(k8s, resync_s=1.0), (_faults(k8s) if faulty else _no_faults()) as rules:
            replicas.until(lambda o: has_condition(o, "Ready", "True") and status_of(o).get("stable") == "churn-v1",
                           "churn-v1 stable", timeout)
            k8s.patch(MV_API, "ModelDeployment", "churn", {"spec": {"version": "churn-v2"}})
            replicas.until(lambda o: settled(k8s, o), "the canary settled", timeout)
            start = time.monotonic()
            while time.monotonic() - start < QUIET_S:  # the cluster goes on: pods serve, controllers look
                replicas.tick()
                time.sleep(0.05)
            writes = _writes_since(k8s, start)
            met = sum(rule.hits for rule in rules)
        return _end_state(k8s), writes, met


@contextmanager
def _no_faults() -> Iterator[list[Fault]]:
    yield []


def _names(k8s: EmulatorHandle, api_version: str, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in k8s.list(api_version, kind, "default"))


def _promoted(k8s: EmulatorHandle, obj: dict[str, Any]) -> bool:
    return (status_of(obj).get("phase") == "Stable" and status_of(obj).get("stable") == "churn-v2"
            and has_condition(obj, "Ready", "True") and _names(k8s, "apps/v1", "Deployment") == ["churn-churn-v2"]
            and _names(k8s, "v1", "Service") == ["churn"]  # at rest D is the only address
            and any(m.startswith("churn-v2 promoted") for m in event_messages(k8s, "Promoted")))


def _rolled_back(k8s: EmulatorHandle, obj: dict[str, Any]) -> bool:
    v2 = k8s.find("apps/v1", "Deployment", "churn-churn-v2")
    return (status_of(obj).get("phase") == "RolledBack" and v2 is not None and v2["spec"]["replicas"] == 0
            and _names(k8s, "v1", "Service") == ["churn"]  # the rollout's per-version Services are gone
            and any("churn-v2" in m for m in event_messages(k8s, "RolledBack")))


def _assert_no_duplicates(state: dict[str, Any]) -> None:
    entries = [(h["version"], h["result"]) for h in state["history"]]
    assert len(entries) == len(set(entries)), f"a history entry written twice: {state['history']}"
    deployments = [name for kind, name, _owner, _replicas in state["children"] if kind == "Deployment"]
    assert len(deployments) == len(set(deployments))
    assert all(owner == "ModelDeployment/churn" for _kind, _name, owner, _replicas in state["children"])


CASES: dict[str, tuple[Traffic, Callable[[EmulatorHandle, dict[str, Any]], bool]]] = {
    "promoted": (good_traffic, _promoted),
    "rolled_back": (bad_candidate, _rolled_back),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_canary_under_faults_ends_as_without_them_and_then_writes_nothing(
    tmp_path: Path, artifacts: tuple[Artifact, Artifact], case: str
) -> None:
    traffic, settled = CASES[case]
    clean, clean_writes, _ = _run(tmp_path / "clean", artifacts, traffic, settled, faulty=False)
    faulty, faulty_writes, met = _run(tmp_path / "faulty", artifacts, traffic, settled, faulty=True)

    assert met >= 10, f"only {met} injected faults were met: the run did not test much"
    _assert_no_duplicates(clean)
    _assert_no_duplicates(faulty)
    assert faulty == clean
    if case == "promoted":
        assert (clean["phase"], clean["stable"], clean["weight"]) == ("Stable", "churn-v2", 100)
    else:
        assert (clean["phase"], clean["stable"], clean["progressing"]) == ("RolledBack", "churn-v1", "AnalysisFailed")
    assert clean_writes == [], f"a settled deployment wrote: {clean_writes}"
    assert faulty_writes == [], f"a settled deployment wrote under faults: {faulty_writes}"

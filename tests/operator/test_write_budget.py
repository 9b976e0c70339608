"""What converging one ModelDeployment with its ModelVersion writes to the API, by verb and resource.

Applied together (as `kubectl apply -f` or a GitOps sync does), it took 18 writes: the
version's status twice, the deployment's three times (the first only to say "VersionNotReady"
milliseconds before the version's verdict), and 10 Events (benchmarks/operator). Then 9: three
children (a Service of its own per version beside Service D) and an Event for each first
outcome. Now 6: the Deployment and Service D, one status write for the version, two for the
deployment (first visit, then Ready), and one Event, Promoted, when the version is served;
and nothing at all once settled.
"""

from __future__ import annotations

import collections
import time

import pytest

from modelops.emulator.testing import EmulatorHandle

from .harness import MV_API, Artifact, apply_v1, bring_up_v1, event_messages, has_condition, running_operator, wait_for

pytestmark = pytest.mark.integration
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _writes(k8s: EmulatorHandle) -> collections.Counter[str]:
    counted: collections.Counter[str] = collections.Counter()
    for r in k8s.requests:
        if r.method in WRITES and r.path.startswith(("/api/", "/apis/")) and "/leases" not in r.path:
            parts = r.path.strip("/").split("/")
            at = parts.index("namespaces") + 2
            counted[" ".join([r.method, "/".join([parts[at], *parts[at + 2:]])])] += 1
    return counted


def test_a_version_and_its_deployment_applied_together_converge_in_six_writes(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    with running_operator(k8s):
        wait_for(lambda: any("watch" in r.query and "modeldeployments" in r.path for r in k8s.requests), "watches")
        k8s.emulator.requests.clear()
        apply_v1(k8s, v1)
        bring_up_v1(k8s, "Ready=True")
        wait_for(lambda: event_messages(k8s, "Promoted"), "Promoted")
        time.sleep(1.5)  # echoes of the last writes come back: they must not be acted on
        writes = _writes(k8s)
        # The test itself wrote the Deployment's status (through the store, not recorded here).
        assert writes == {
            "POST deployments": 1, "POST services": 1,
            "PATCH modelversions/status": 1, "PATCH modeldeployments/status": 2,
            "POST events": 1,
        }, writes
        reasons = sorted(e["reason"] for e in k8s.list("v1", "Event", "default"))
        assert reasons == ["Promoted"]
        version = k8s.get(MV_API, "ModelVersion", "churn-v1")
        assert has_condition(version, "Ready", "True", "Verified")

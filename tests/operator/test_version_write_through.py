"""A ModelVersion's status write is in the versions the deployments read at once, not only when
its watch event comes back: a deployment of the model reconciled in between saw the version
unverified and wrote "VersionNotReady" (a status write) and then "WaitingForPods" (an Event):
4 of 1,000 deployments in benchmarks/operator, above the 6 writes an object may cost."""

from __future__ import annotations

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.context import Context
from modelops.operator.kube import Connection, Kube
from modelops.operator.modelversion.sync import sync
from modelops.operator.versioncache import VersionCache
from tests.operator.conftest import Artifact
from tests.operator.harness import MV_API, model_version


async def test_a_verdict_written_is_what_the_next_deployment_reconcile_reads(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    v1 = artifacts[0]
    k8s.create(model_version("churn-v1", v1.uri, v1.sha256))
    versions = VersionCache()
    versions.update("ADDED", k8s.get(MV_API, "ModelVersion", "churn-v1"))  # as the watch delivered it
    assert versions.unobserved("default", "churn") == ["churn-v1"]
    ctx = Context(kube=Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context)), versions=versions)
    try:
        await sync(ctx, "default", "churn-v1")
    finally:
        await ctx.kube.close()
        ctx.inspections.close()
    assert versions.unobserved("default", "churn") == []  # no watch event was delivered meanwhile


"""``Kube.served``: whether a kind exists on the cluster (discovery), a yes cached, a no asked again."""

from __future__ import annotations

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.kube import DEPLOYMENTS, HTTPROUTES, Connection, Kube
from modelops.sandbox.crds import HTTPROUTES_CRD


def _discovery_requests(k8s: EmulatorHandle) -> int:
    return sum(1 for r in k8s.requests if r.path == "/apis/gateway.networking.k8s.io/v1")


async def test_a_kind_is_served_once_its_crd_is_installed_and_a_yes_is_cached(k8s: EmulatorHandle) -> None:
    kube = Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context))
    try:
        assert await kube.served(DEPLOYMENTS)  # a built-in kind, under /apis/apps/v1
        assert not await kube.served(HTTPROUTES)
        assert not await kube.served(HTTPROUTES)
        assert _discovery_requests(k8s) == 2  # a no is asked again each time: nothing says a CRD arrived
        assert not await kube.served(HTTPROUTES, ask=False)
        assert _discovery_requests(k8s) == 2  # ask=False sends nothing
        k8s.apply_crds(HTTPROUTES_CRD)
        assert await kube.served(HTTPROUTES)
        assert await kube.served(HTTPROUTES)
        assert await kube.served(HTTPROUTES, ask=False)
        assert _discovery_requests(k8s) == 3  # the yes is cached
        kube.forget(HTTPROUTES)
        assert await kube.served(HTTPROUTES)
        assert _discovery_requests(k8s) == 4
    finally:
        await kube.close()

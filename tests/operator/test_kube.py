"""The thin client: credentials from kopf's ConnectionInfo, answers classified over real HTTP."""

from __future__ import annotations

import ssl

import kopf
import pytest

from modelops.emulator.testing import EmulatorHandle
from modelops.operator.kube import DEPLOYMENTS, ApiUnavailable, Connection, Kube


def test_a_bearer_token_becomes_the_authorization_header() -> None:
    conn = Connection.from_kopf(kopf.ConnectionInfo(server="https://k8s.example:6443/", token="t0k", insecure=True))
    assert conn.server == "https://k8s.example:6443"
    assert conn.headers == {"Authorization": "Bearer t0k"}
    assert isinstance(conn.ssl, ssl.SSLContext)
    assert conn.ssl.verify_mode == ssl.CERT_NONE


def _deployment(name: str, replicas: int = 1) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"a": "b"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


async def test_ensure_creates_then_leaves_alone_then_patches_drift(k8s: EmulatorHandle) -> None:
    kube = Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context))
    try:
        assert await kube.ensure(_deployment("d")) == "created"
        assert await kube.ensure(_deployment("d")) == "unchanged"
        assert await kube.ensure(_deployment("d", replicas=3)) == "updated"
        assert (await kube.get(DEPLOYMENTS, "default", "d") or {})["spec"]["replicas"] == 3
        assert await kube.get(DEPLOYMENTS, "default", "missing") is None
        assert await kube.delete(DEPLOYMENTS, "default", "d")
        assert not await kube.delete(DEPLOYMENTS, "default", "d")
    finally:
        await kube.close()


async def test_a_409_on_create_is_already_exists_and_5xx_is_unavailable(k8s: EmulatorHandle) -> None:
    kube = Kube(Connection(k8s.url, k8s.auth_headers, k8s.ssl_context))
    try:
        await kube.ensure(_deployment("d"))
        k8s.fail_next("POST", r"/deployments$", status=409)
        assert await kube.create(DEPLOYMENTS, "default", _deployment("e")) is None
        k8s.fail_next("GET", r"/deployments/d$", status=503, retry_after=7)
        with pytest.raises(ApiUnavailable) as caught:
            await kube.get(DEPLOYMENTS, "default", "d")
        assert caught.value.retry_after == 7.0
    finally:
        await kube.close()

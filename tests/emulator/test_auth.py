"""The emulator is not an open door: bearer token required, only API media types decoded.

A web page can send a cross-origin "simple request" (POST with `Content-Type: text/plain`,
no preflight) to any port on 127.0.0.1. The emulator used to parse such a body as JSON and
had no authentication, so a page could create a Deployment that the sandbox then ran.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelops.emulator.testing import EmulatorHandle, running_emulator

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
EVIL = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "evil", "labels": {"app.kubernetes.io/managed-by": "modelops"}},
    "spec": {"selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "i", "command": ["sh", "-c", "id"]}]}}},
}
# What a page's `fetch(url, {method: "POST", body, mode: "no-cors"})` sends.
BROWSER = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://attacker.example"}


@pytest.fixture
def anonymous(k8s: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=k8s.url, timeout=10, verify=k8s.ssl_context) as client:
        yield client


def test_a_cross_origin_text_plain_post_without_the_token_is_401_and_creates_nothing(
    anonymous: httpx.Client, k8s: EmulatorHandle
) -> None:
    response = anonymous.post(DEPLOYMENTS, content=json.dumps(EVIL).encode(), headers=BROWSER)
    assert response.status_code == 401
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert k8s.list("apps/v1", "Deployment") == []


def test_a_text_plain_body_is_415_even_with_the_token_and_creates_nothing(
    api: httpx.Client, k8s: EmulatorHandle
) -> None:
    response = api.post(DEPLOYMENTS, content=json.dumps(EVIL).encode(), headers=BROWSER)
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"
    assert "application/json" in response.json()["message"]
    assert "text/plain" in response.json()["message"]
    assert k8s.list("apps/v1", "Deployment") == []
    # PUT is an object write too; a form post is no better than text/plain.
    api.post(DEPLOYMENTS, json={**EVIL, "metadata": {"name": "ok"}})
    put = api.put(f"{DEPLOYMENTS}/ok", content=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert put.status_code == 415


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml", "application/json; charset=utf-8",
                                          ""])
def test_object_bodies_in_json_or_yaml_are_accepted(api: httpx.Client, k8s: EmulatorHandle, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({**EVIL, "metadata": {"name": "fine"}}).encode()  # JSON is YAML too
    assert api.post(DEPLOYMENTS, content=body, headers=headers).status_code == 201


def test_a_patch_must_use_a_patch_media_type(api: httpx.Client) -> None:
    api.post(DEPLOYMENTS, json={**EVIL, "metadata": {"name": "d"}})
    plain = api.patch(f"{DEPLOYMENTS}/d", json={"spec": {"replicas": 2}}, headers={"Content-Type": "application/json"})
    assert plain.status_code == 415
    merge = api.patch(f"{DEPLOYMENTS}/d", json={"spec": {"replicas": 2}},
                      headers={"Content-Type": "application/merge-patch+json"})
    assert merge.status_code == 200


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/openapi/v3", DEPLOYMENTS,
                                  f"{DEPLOYMENTS}?watch=true"])
def test_discovery_and_resources_need_the_token(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/readyz/ping", "/version"])
def test_probes_and_version_are_public_as_on_a_real_api_server(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_a_wrong_token_is_401_everywhere(k8s: EmulatorHandle) -> None:
    for scheme_and_token in (f"Bearer {k8s.token}x", "Bearer modelops-emulator", f"Basic {k8s.token}"):
        with httpx.Client(base_url=k8s.url, headers={"Authorization": scheme_and_token},
                          verify=k8s.ssl_context) as wrong:
            assert wrong.get("/api").status_code == 401
            assert wrong.get("/healthz").status_code == 401  # a presented credential must be valid


def test_each_start_has_its_own_token_in_a_private_kubeconfig(tmp_path: Path, k8s: EmulatorHandle) -> None:
    mode = stat.S_IMODE(os.stat(k8s.kubeconfig).st_mode)
    assert mode == 0o600
    assert k8s.token in k8s.kubeconfig.read_text()
    with running_emulator(tmp_path / "other") as other:
        assert other.token != k8s.token
        with httpx.Client(base_url=other.url, headers=k8s.auth_headers, verify=other.ssl_context) as stale:
            assert stale.get("/api").status_code == 401


def test_kubectl_uses_the_kubeconfigs_token_over_verified_tls(k8s: EmulatorHandle) -> None:
    # kubectl sends a bearer token only over https, and verifies the certificate it is given.
    assert "default" in k8s.kubectl("get", "ns").stdout
    assert k8s.url.startswith("https://127.0.0.1:")


def test_a_client_that_does_not_trust_the_certificate_is_refused(k8s: EmulatorHandle) -> None:
    with httpx.Client(base_url=k8s.url, headers=k8s.auth_headers) as system_trust, \
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        system_trust.get("/api")

"""Credentials for the API server, shared by kopf's watchers and our client.

Like kopf's ``login_via_client`` (in-cluster service account first, then kubeconfig), but
with an explicit kubeconfig path when one is given and without touching the kubernetes
client's process-wide default configuration, so two operators in one test process can
talk to two API servers.
"""

from __future__ import annotations

from pathlib import Path

import kopf


def login(kubeconfig: Path | None = None) -> kopf.ConnectionInfo:
    import kubernetes

    config = kubernetes.client.Configuration()
    if kubeconfig is not None:
        kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=config)  # type: ignore[no-untyped-call]
    else:
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            try:
                kubernetes.config.load_kube_config(client_configuration=config)  # type: ignore[no-untyped-call]
            except kubernetes.config.ConfigException as exc:
                raise kopf.LoginError(
                    f"no credentials: not in a cluster, and no usable kubeconfig ({exc}); "
                    "set KUBECONFIG or pass --kubeconfig"
                ) from exc
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix("authorization")
    parts = header.split(" ", 1) if header else []
    scheme, token = (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )

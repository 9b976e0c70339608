"""Reading what ``modelops history`` needs from the API server: three lists, nothing written.

Uses the kubernetes client's kubeconfig handling (an explicit file, else in-cluster, else
``$KUBECONFIG``/``~/.kube/config``), as kubectl would; the namespace defaults to the current
context's. Needs only ``list`` on modelversions, modeldeployments and events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops import GROUP, VERSION


class ReadError(Exception):
    """The cluster could not be read: the message says why and what to do."""


@dataclass(frozen=True)
class Objects:
    namespace: str
    versions: list[dict[str, Any]]
    deployments: list[dict[str, Any]]
    events: list[dict[str, Any]]


def read(namespace: str | None, kubeconfig: Path | None) -> Objects:
    import kubernetes

    config = kubernetes.client.Configuration()
    context_namespace = "default"
    try:
        if kubeconfig is None and _in_cluster():
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        else:
            path = None if kubeconfig is None else str(kubeconfig)
            kubernetes.config.load_kube_config(config_file=path, client_configuration=config)  # type: ignore[no-untyped-call]
            _, current = kubernetes.config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
            context_namespace = (current or {}).get("context", {}).get("namespace") or "default"
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise ReadError(f"no usable credentials ({exc}): pass --kubeconfig or set KUBECONFIG") from None
    ns = namespace or context_namespace
    with kubernetes.client.ApiClient(config) as api:
        custom = kubernetes.client.CustomObjectsApi(api)
        try:
            listed: Any = custom.list_namespaced_custom_object(GROUP, VERSION, ns, "modelversions")
            versions = listed["items"]
            listed = custom.list_namespaced_custom_object(GROUP, VERSION, ns, "modeldeployments")
            deployments = listed["items"]
            # Raw JSON, not the client's models: the chain reads the API's own field names.
            raw: Any = kubernetes.client.CoreV1Api(api).list_namespaced_event(ns, _preload_content=False)
            events: Any = json.loads(raw.data)["items"]
        except kubernetes.client.ApiException as exc:
            hint = " (are the modelops CRDs installed?)" if exc.status == 404 else ""
            raise ReadError(f"the API server answered {exc.status} {exc.reason}{hint}: {_body(exc)}") from None
        except Exception as exc:  # unreachable server, TLS: urllib3's own types
            raise ReadError(f"cannot reach the API server at {config.host}: {exc}") from None
    return Objects(ns, list(versions), list(deployments), list(events))


def _in_cluster() -> bool:
    return Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()


def _body(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message"))
    except (TypeError, ValueError, AttributeError):
        return str(exc.body)[:300]

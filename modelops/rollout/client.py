"""The two API calls ``modelops rollout`` makes: read a ModelDeployment, set its action annotation.

Credentials as kubectl finds them (``--kubeconfig``, else in-cluster, else ``$KUBECONFIG`` /
``~/.kube/config``); the namespace defaults to the context's. Needs ``get`` and ``patch`` on
modeldeployments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelops import GROUP, VERSION

ACTION_ANNOTATION = "modelops.dev/action"  # modelops.operator.plans.ACTION_ANNOTATION


class RolloutError(Exception):
    """The cluster could not be read or written: the message says why."""


class Client:
    def __init__(self, namespace: str | None, kubeconfig: Path | None) -> None:
        import kubernetes

        self._k = kubernetes
        self.config = kubernetes.client.Configuration()
        context_namespace = "default"
        try:
            if kubeconfig is None and Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists():
                kubernetes.config.load_incluster_config(client_configuration=self.config)  # type: ignore[no-untyped-call]
            else:
                path = None if kubeconfig is None else str(kubeconfig)
                kubernetes.config.load_kube_config(config_file=path, client_configuration=self.config)  # type: ignore[no-untyped-call]
                _, current = kubernetes.config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
                context_namespace = (current or {}).get("context", {}).get("namespace") or "default"
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise RolloutError(f"no usable credentials ({exc}): pass --kubeconfig or set KUBECONFIG") from None
        self.namespace = namespace or context_namespace

    def _call(self, what: str, name: str, call: Any) -> dict[str, Any]:
        k = self._k
        with k.client.ApiClient(self.config) as api:
            custom = k.client.CustomObjectsApi(api)
            try:
                result: dict[str, Any] = call(custom)
                return result
            except k.client.ApiException as exc:
                if exc.status == 404:
                    raise RolloutError(f"ModelDeployment {self.namespace}/{name} not found") from None
                raise RolloutError(f"{what}: the API server answered {exc.status} {exc.reason}: "
                                   f"{_body(exc)}") from None
            except Exception as exc:  # unreachable server, TLS: urllib3's own types
                raise RolloutError(f"cannot reach the API server at {self.config.host}: {exc}") from None

    def get(self, name: str) -> dict[str, Any]:
        return self._call("get", name, lambda c: c.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "modeldeployments", name))

    def act(self, name: str, action: str) -> dict[str, Any]:
        body = {"metadata": {"annotations": {ACTION_ANNOTATION: action}}}
        return self._call("patch", name, lambda c: c.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "modeldeployments", name, body))


def _body(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message"))
    except (TypeError, ValueError, AttributeError):
        return str(exc.body)[:300]

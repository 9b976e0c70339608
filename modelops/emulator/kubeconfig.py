"""A kubeconfig pointing kubectl, kopf and the kubernetes client at the emulator, with its token."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

CONTEXT = "modelops-emulator"


def render(url: str, token: str, ca_pem: bytes, namespace: str = "default") -> str:
    cluster = {"server": url, "certificate-authority-data": base64.b64encode(ca_pem).decode()}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        # The emulator's bearer token, new at each start: without it only /healthz, /livez,
        # /readyz and /version answer, so a web page or another local user cannot drive it.
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: str | os.PathLike[str], url: str, token: str, ca_pem: bytes, namespace: str = "default") -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    # Created private: the token must never be readable by others, not even for a moment.
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(render(url, token, ca_pem, namespace))
    temporary.replace(target)  # atomic: a reader never sees half a kubeconfig
    return target


def token_of(path: str | os.PathLike[str]) -> str:
    """The bearer token a kubeconfig written by `write` carries."""
    config = yaml.safe_load(Path(path).read_text())
    token = config["users"][0]["user"]["token"]
    if not isinstance(token, str):
        raise ValueError(f"{path}: no bearer token for user {config['users'][0].get('name')}")
    return token


def ca_of(path: str | os.PathLike[str]) -> bytes:
    """The PEM certificate a kubeconfig written by `write` trusts."""
    config = yaml.safe_load(Path(path).read_text())
    return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])

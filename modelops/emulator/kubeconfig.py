"""A kubeconfig pointing kubectl, kopf and the kubernetes client at the emulator."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

CONTEXT = "modelops-emulator"


def render(url: str, namespace: str = "default") -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        # A token the emulator ignores: clients that insist on credentials have one.
        "users": [{"name": CONTEXT, "user": {"token": "modelops-emulator"}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: str | os.PathLike[str], url: str, namespace: str = "default") -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(render(url, namespace))
    temporary.chmod(0o600)
    temporary.replace(target)  # atomic: a reader never sees half a kubeconfig
    return target

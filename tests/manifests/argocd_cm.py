"""Render ``manifests/argocd/argocd-cm-patch.yaml`` from the ``health.lua`` files beside it.

Run ``.venv/bin/python -m tests.manifests.argocd_cm`` after editing a health check;
``test_argocd_health.py`` fails while the committed patch differs from what this renders.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "manifests" / "argocd"
CM_PATCH = ARGOCD / "argocd-cm-patch.yaml"

HEADER = """\
# Generated from manifests/argocd/<group>/<Kind>/health.lua by
# `.venv/bin/python -m tests.manifests.argocd_cm`; do not edit by hand (a test checks it).
#
# Installs the modelops health checks into Argo CD. Either merge it into the live ConfigMap:
#   kubectl -n argocd patch configmap argocd-cm --patch-file manifests/argocd/argocd-cm-patch.yaml
# or list it under `patches:` in the kustomization that installs Argo CD.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
"""


def health_checks() -> dict[str, Path]:
    """Argo CD's key suffix (``<group>_<Kind>``) -> the Lua file, sorted by key."""
    found = {f"{lua.parent.parent.name}_{lua.parent.name}": lua for lua in ARGOCD.glob("*/*/health.lua")}
    return dict(sorted(found.items()))


def render() -> str:
    parts = [HEADER]
    for key, lua in health_checks().items():
        parts.append(f"  resource.customizations.health.{key}: |\n")
        for line in lua.read_text().splitlines():
            parts.append(f"    {line}\n" if line else "\n")
    return "".join(parts)


def main() -> None:
    CM_PATCH.write_text(render())
    print(f"wrote {CM_PATCH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Third-party CRDs the sandbox installs (package data; see each file's header for source and licence)."""

from pathlib import Path

CRDS_DIR = Path(__file__).resolve().parent
HTTPROUTES_CRD = CRDS_DIR / "gateway.networking.k8s.io_httproutes.yaml"

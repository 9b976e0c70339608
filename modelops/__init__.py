"""modelops: the production half of the ML lifecycle on Kubernetes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modelops")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

GROUP = "modelops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

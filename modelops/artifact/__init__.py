"""The model artifact: a directory of model file, metadata.json, profile.json and
manifest.json, whose digest is sha256(manifest.json). See modelops.artifact.format.

Public API (what the operator, the serving pods and `modelops package` use)::

    build_artifact(model, reference, feature_names, target_values, out_dir) -> sha256
    inspect_remote(uri, expected_sha256) -> (Manifest, Metadata)   # operator
    artifact_summary(manifest, metadata, sha256) -> status.artifact dict
    fetch(uri, expected_sha256, dest_dir) -> Manifest               # init container
    load_artifact(dir, expected_sha256, trusted, allow_version_skew) -> LoadedArtifact
    ArtifactError(reason, message)

Submodules are imported lazily, so importing this package stays cheap for the operator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelops.artifact.build import build_artifact
    from modelops.artifact.errors import ArtifactError
    from modelops.artifact.fetching import fetch
    from modelops.artifact.inspection import artifact_summary, inspect_remote
    from modelops.artifact.loading import LoadedArtifact, load_artifact
    from modelops.artifact.manifest import Manifest, ManifestEntry
    from modelops.artifact.metadata import FeatureSpec, Metadata

_EXPORTS = {
    "build_artifact": "modelops.artifact.build",
    "ArtifactError": "modelops.artifact.errors",
    "fetch": "modelops.artifact.fetching",
    "artifact_summary": "modelops.artifact.inspection",
    "inspect_remote": "modelops.artifact.inspection",
    "LoadedArtifact": "modelops.artifact.loading",
    "load_artifact": "modelops.artifact.loading",
    "Manifest": "modelops.artifact.manifest",
    "ManifestEntry": "modelops.artifact.manifest",
    "FeatureSpec": "modelops.artifact.metadata",
    "Metadata": "modelops.artifact.metadata",
}

__all__ = [
    "ArtifactError",
    "FeatureSpec",
    "LoadedArtifact",
    "Manifest",
    "ManifestEntry",
    "Metadata",
    "artifact_summary",
    "build_artifact",
    "fetch",
    "inspect_remote",
    "load_artifact",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelops.artifact' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""What the operator learns about an artifact without downloading the model."""

from __future__ import annotations

from typing import Any

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import (
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    MAX_METADATA_BYTES,
    METADATA_FILE,
    normalize_digest,
)
from modelops.artifact.manifest import Manifest
from modelops.artifact.metadata import Metadata
from modelops.artifact.profiling import class_category
from modelops.artifact.sources import (
    DEFAULT_INSPECTION_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    Deadline,
    open_source,
    read_limited,
    read_small,
)
from modelops.artifact.verify import check_metadata, check_size_cap, verify_entry, verify_manifest


def inspect_remote(
    uri: str,
    expected_sha256: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    deadline_s: float = DEFAULT_INSPECTION_DEADLINE_S,
) -> tuple[Manifest, Metadata]:
    """Download manifest.json and metadata.json only, and verify both: the manifest against
    the expected artifact digest, the metadata against the manifest. Both downloads together
    take at most ``deadline_s`` (ArtifactUnreachable after). Raises ArtifactError."""
    source = open_source(uri, timeout_s, Deadline(deadline_s))
    manifest_where = source.describe(MANIFEST_FILE)
    manifest = verify_manifest(
        read_small(source, MANIFEST_FILE, MAX_MANIFEST_BYTES), expected_sha256, manifest_where
    )
    entry = manifest.entry(METADATA_FILE)
    metadata_where = source.describe(METADATA_FILE)
    check_size_cap(entry, MAX_METADATA_BYTES, metadata_where)
    # The listed size bounds the download: one byte more is already a mismatch.
    data = read_limited(source, METADATA_FILE, entry.size + 1)
    verify_entry(entry, data, metadata_where)
    metadata = Metadata.from_bytes(data, source=metadata_where)
    check_metadata(manifest, metadata, metadata_where)
    return manifest, metadata


def check_declared_format(metadata: Metadata, declared: str, trusted: bool, where: str) -> None:
    """The ModelVersion's ``artifact.format`` must be the artifact's, and a joblib pickle
    needs ``artifact.trusted``: caught by the operator, before any pod tries to load it."""
    if metadata.format != declared:
        raise ArtifactError(
            "UnsupportedFormat", f"{where}: the artifact is {metadata.format}, the ModelVersion says {declared}"
        )
    if metadata.format == "joblib" and not trusted:
        raise ArtifactError(
            "UntrustedFormat", f"{where}: a joblib (pickle) artifact needs artifact.trusted: true"
        )


def artifact_summary(manifest: Manifest, metadata: Metadata, sha256: str | None = None) -> dict[str, Any]:
    """The ModelVersion's ``status.artifact``."""
    return {
        "sha256": manifest.digest if sha256 is None else normalize_digest(sha256),
        "sizeBytes": manifest.size_bytes,
        "files": len(manifest.files),
        "features": list(metadata.feature_names),
        # As strings, the way the output profile names them (and the CRD schema types them).
        "classes": [class_category(c) for c in metadata.classes or ()],
        "task": metadata.task,
        "frameworkVersions": dict(metadata.framework_versions),
        "offlineMetrics": dict(metadata.offline_metrics),
    }

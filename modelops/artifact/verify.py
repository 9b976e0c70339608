"""Checking an artifact's bytes against its digest and its manifest."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import (
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    METADATA_FILE,
    PROFILE_FILE,
    normalize_digest,
    sha256_bytes,
    sha256_file,
)
from modelops.artifact.manifest import Manifest, ManifestEntry
from modelops.artifact.metadata import Metadata
from modelops.artifact.sources import LocalSource, read_small

# Files every manifest must list besides the model file (which metadata.json names).
REQUIRED_FILES = (METADATA_FILE, PROFILE_FILE)


def verify_manifest(data: bytes, expected_sha256: str | None, where: str) -> Manifest:
    """The manifest parsed from ``data`` once its digest matches (when one is expected)."""
    actual = sha256_bytes(data)
    if expected_sha256 is not None:
        expected = normalize_digest(expected_sha256)
        if actual != expected:
            raise ArtifactError(
                "DigestMismatch", f"{where}: sha256 is {actual}, expected {expected}"
            )
    manifest = Manifest.from_bytes(data, source=where)
    for required in REQUIRED_FILES:
        if required not in manifest.paths:
            raise ArtifactError("InvalidArtifact", f"{where} does not list {required}")
    return manifest


def verify_entry(entry: ManifestEntry, data: bytes, where: str) -> None:
    """Raise DigestMismatch unless ``data`` is what the manifest says."""
    check_digest(entry, sha256_bytes(data), len(data), where)


def check_size(entry: ManifestEntry, size: int, where: str) -> None:
    if size != entry.size:
        raise ArtifactError(
            "DigestMismatch", f"{where}: size is {size} bytes, the manifest says {entry.size}"
        )


def check_digest(entry: ManifestEntry, sha256: str, size: int, where: str) -> None:
    check_size(entry, size, where)
    if sha256 != entry.sha256:
        raise ArtifactError(
            "DigestMismatch", f"{where}: sha256 is {sha256}, the manifest says {entry.sha256}"
        )


def check_size_cap(entry: ManifestEntry, cap: int, where: str) -> None:
    """A file read whole into memory must be listed at no more than ``cap`` bytes."""
    if entry.size > cap:
        raise ArtifactError("InvalidArtifact", f"{where} is listed as {entry.size} bytes, over {cap}")


def check_metadata(manifest: Manifest, metadata: Metadata, where: str) -> None:
    """The metadata's model file must be one the manifest lists (and so verifies)."""
    if metadata.model_file not in manifest.paths:
        raise ArtifactError(
            "InvalidArtifact", f"{where}: model file {metadata.model_file!r} is not in the manifest"
        )


def read_manifest_file(root: Path, expected_sha256: str | None) -> Manifest:
    source = LocalSource(str(root), root)
    data = read_small(source, MANIFEST_FILE, MAX_MANIFEST_BYTES)
    return verify_manifest(data, expected_sha256, source.describe(MANIFEST_FILE))


def verify_directory(
    root: Path, expected_sha256: str | None = None, read_later: Collection[str] = ()
) -> Manifest:
    """Verify a local artifact directory completely: the manifest's digest, then every
    listed file's size and sha256, and that no file is there that the manifest omits.
    Files in ``read_later`` get their size checked only: the caller hashes the bytes it
    reads (verify_entry), so what it parses is exactly what was verified.
    Returns the manifest, whose ``digest`` is the artifact's (manifests are canonical, so
    it is the sha256 of the bytes read)."""
    if not root.is_dir():
        raise ArtifactError("ArtifactNotFound", f"artifact directory {root} does not exist")
    manifest = read_manifest_file(root, expected_sha256)
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            raise ArtifactError("ArtifactNotFound", f"{path} is listed in the manifest but missing")
        if entry.path in read_later:
            check_size(entry, path.stat().st_size, str(path))
            continue
        digest, size = sha256_file(path)
        check_digest(entry, digest, size, str(path))
    extra = sorted(set(list_files(root)) - set(manifest.paths) - {MANIFEST_FILE})
    if extra:
        raise ArtifactError(
            "InvalidArtifact", f"{root} holds files the manifest does not list: {', '.join(extra)}"
        )
    return manifest


def list_files(root: Path) -> list[str]:
    """Every file under ``root`` as a POSIX relative path (symlinks counted as files)."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        found.extend((rel / name).as_posix() for name in files)
    return found

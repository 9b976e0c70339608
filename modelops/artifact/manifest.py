"""`manifest.json`: every other file of the artifact with its size and sha256."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    canonical_json,
    check_relative_path,
    is_sha256,
    parse_json,
    sha256_bytes,
    sha256_file,
)


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Manifest:
    files: tuple[ManifestEntry, ...]
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            dupes = sorted({p for p in paths if paths.count(p) > 1})
            raise ArtifactError("InvalidArtifact", f"manifest lists {', '.join(dupes)} more than once")
        for entry in self.files:
            check_relative_path(entry.path)
            if entry.path == MANIFEST_FILE:
                raise ArtifactError("InvalidArtifact", f"the manifest must not list {MANIFEST_FILE} itself")

    def entry(self, path: str) -> ManifestEntry:
        for e in self.files:
            if e.path == path:
                return e
        raise ArtifactError("InvalidArtifact", f"{MANIFEST_FILE} does not list {path}")

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(e.path for e in self.files)

    @property
    def size_bytes(self) -> int:
        return sum(e.size for e in self.files)

    def to_bytes(self) -> bytes:
        files = sorted(self.files, key=lambda e: e.path)
        return canonical_json(
            {"files": [e.to_json() for e in files], "formatVersion": self.format_version}
        )

    @property
    def digest(self) -> str:
        """The artifact digest: sha256 of the canonical manifest bytes."""
        return sha256_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, source: str = MANIFEST_FILE) -> Manifest:
        manifest = cls.from_json(parse_json(data, source), source)
        # One artifact content, one digest: a manifest that is not in canonical form (sorted
        # keys and paths, no whitespace) would let the same files carry several digests.
        if manifest.to_bytes() != data:
            raise ArtifactError(
                "InvalidArtifact",
                f"{source} is not canonical JSON (sorted keys and paths, no whitespace, no "
                "trailing newline); write it with `modelops package` or modelops.artifact.Manifest",
            )
        return manifest

    @classmethod
    def from_json(cls, raw: Any, source: str = MANIFEST_FILE) -> Manifest:
        if not isinstance(raw, Mapping):
            raise ArtifactError("InvalidArtifact", f"{source} must be a JSON object")
        version = raw.get("formatVersion")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                "UnsupportedFormat",
                f"{source} formatVersion {version!r} is not supported (expected {FORMAT_VERSION})",
            )
        files = raw.get("files")
        if not isinstance(files, list):
            raise ArtifactError("InvalidArtifact", f"{source} has no 'files' list")
        entries = []
        for item in files:
            if not isinstance(item, Mapping):
                raise ArtifactError("InvalidArtifact", f"{source}: file entry {item!r} is not an object")
            path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
            if not isinstance(path, str):
                raise ArtifactError("InvalidArtifact", f"{source}: file entry {item!r} has no path")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ArtifactError("InvalidArtifact", f"{source}: {path} has no valid size")
            if not isinstance(digest, str) or not is_sha256(digest):
                raise ArtifactError("InvalidArtifact", f"{source}: {path} has no valid sha256")
            entries.append(ManifestEntry(path=path, size=size, sha256=digest))
        return cls(files=tuple(entries), format_version=version)

    @classmethod
    def for_directory(cls, root: Path, paths: Iterable[str]) -> Manifest:
        """A manifest of the given files under ``root``, hashed from disk."""
        entries = []
        for path in sorted(paths):
            digest, size = sha256_file(root / check_relative_path(path))
            entries.append(ManifestEntry(path=path, size=size, sha256=digest))
        return cls(files=tuple(entries))


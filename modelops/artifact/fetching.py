"""Downloading a whole artifact into a directory, verifying every byte on the way.

This is what the serving pod's init container runs. Files are streamed into temporary
files next to their destination, hashed while they stream, and renamed into place only
once their size and sha256 match the manifest; ``manifest.json`` is written last, so a
directory that has it is complete. A rerun (a restarted init container) keeps files that
already match and downloads the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import MANIFEST_FILE, MAX_MANIFEST_BYTES, sha256_file
from modelops.artifact.manifest import Manifest, ManifestEntry
from modelops.artifact.sources import (
    DEFAULT_FETCH_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    Deadline,
    Source,
    open_source,
    read_small,
)
from modelops.artifact.verify import check_digest, list_files, verify_manifest

TEMP_PREFIX = ".modelops-part-"

Progress = Callable[[str], None]


def fetch(
    uri: str,
    expected_sha256: str,
    dest_dir: str | Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    progress: Progress | None = None,
    deadline_s: float = DEFAULT_FETCH_DEADLINE_S,
) -> Manifest:
    """Download and verify every file of the artifact at ``uri`` into ``dest_dir``, all of
    them within ``deadline_s`` (ArtifactUnreachable after; a rerun keeps verified files)."""
    say = progress or (lambda _msg: None)
    dest = Path(dest_dir)
    source = open_source(uri, timeout_s, Deadline(deadline_s))
    manifest_bytes = read_small(source, MANIFEST_FILE, MAX_MANIFEST_BYTES)
    manifest = verify_manifest(manifest_bytes, expected_sha256, source.describe(MANIFEST_FILE))
    say(f"manifest {source.describe(MANIFEST_FILE)} verified: {len(manifest.files)} files, "
        f"{manifest.size_bytes} bytes")
    dest.mkdir(parents=True, exist_ok=True)
    _check_destination(dest, manifest)
    for n, entry in enumerate(manifest.files, start=1):
        target = _inside(dest, entry.path)
        if target.is_file() and sha256_file(target) == (entry.sha256, entry.size):
            say(f"[{n}/{len(manifest.files)}] {entry.path}: already present and verified")
            continue
        _download(source, entry, target)
        say(f"[{n}/{len(manifest.files)}] {entry.path}: {entry.size} bytes, sha256 verified")
    _write_atomically(dest / MANIFEST_FILE, manifest_bytes)
    say(f"artifact {manifest.digest} fetched into {dest}")
    return manifest


def _inside(dest: Path, relpath: str) -> Path:
    """The destination of a manifest path, which must resolve inside ``dest`` (manifest
    paths are checked already; this also refuses a symlinked subdirectory leading out)."""
    target = dest / relpath
    root = dest.resolve()
    if not target.parent.resolve().is_relative_to(root):
        raise ArtifactError("InvalidArtifact", f"manifest path {relpath!r} leads outside {dest}")
    return target


def _check_destination(dest: Path, manifest: Manifest) -> None:
    """Refuse to mix an artifact with files that are not its own, but clear away the
    temporary files of an interrupted earlier fetch."""
    listed = {*manifest.paths, MANIFEST_FILE}
    strangers = []
    for rel in list_files(dest):
        if Path(rel).name.startswith(TEMP_PREFIX):
            (dest / rel).unlink(missing_ok=True)
        elif rel not in listed:
            strangers.append(rel)
    if strangers:
        raise ArtifactError(
            "InvalidArtifact",
            f"destination {dest} holds files the manifest does not list: {', '.join(sorted(strangers))}",
        )


def _download(source: Source, entry: ManifestEntry, target: Path) -> None:
    where = source.describe(entry.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        size = 0
        chunks = source.iter_chunks(entry.path)
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in chunks:
                    size += len(chunk)
                    # Stop as soon as the file is longer than listed: no unbounded download.
                    if size > entry.size:
                        raise ArtifactError(
                            "DigestMismatch", f"{where}: larger than the {entry.size} bytes the manifest says"
                        )
                    h.update(chunk)
                    out.write(chunk)
            finally:
                chunks.close()
            out.flush()
            os.fsync(out.fileno())
        check_digest(entry, h.hexdigest(), size, where)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomically(target: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)

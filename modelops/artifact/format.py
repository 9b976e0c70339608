"""Constants and byte-level helpers of the artifact format (one directory).

Layout::

    model.skops | model.joblib   the fitted estimator
    metadata.json                features, target, classes, task, metrics, versions
    profile.json                 reference bins (modelops.drift.profile.Profile)
    manifest.json                every other file with its size and sha256

The artifact digest is ``sha256(manifest.json bytes)``: ``sha256sum DIR/manifest.json``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import orjson

from modelops.artifact.errors import ArtifactError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
METADATA_FILE = "metadata.json"
PROFILE_FILE = "profile.json"

ModelFormat = Literal["skops", "joblib"]
MODEL_FORMATS: tuple[ModelFormat, ...] = ("skops", "joblib")
MODEL_FILES: dict[ModelFormat, str] = {"skops": "model.skops", "joblib": "model.joblib"}

# Small files are read whole into memory (the operator reads them on every verification);
# a cap keeps a hostile or mistaken uri from exhausting the operator's memory.
MAX_MANIFEST_BYTES = 1 << 20
MAX_METADATA_BYTES = 4 << 20
MAX_PROFILE_BYTES = 64 << 20

CHUNK_SIZE = 1 << 20

_SHA256 = re.compile(r"[0-9a-f]{64}")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def parse_json(data: bytes, source: str) -> Any:
    """The JSON value in ``data``; InvalidArtifact naming ``source`` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArtifactError("InvalidArtifact", f"{source} is not valid JSON: {exc}") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a file, read in chunks."""
    with path.open("rb") as f:
        return sha256_chunks(iter(lambda: f.read(CHUNK_SIZE), b""))


def is_sha256(value: str) -> bool:
    """64 lowercase hex digits."""
    return _SHA256.fullmatch(value) is not None


def normalize_digest(value: str) -> str:
    """A user-given sha256 as 64 lowercase hex digits (an optional ``sha256:`` prefix is
    accepted, as in OCI digests)."""
    digest = value.strip().lower()
    digest = digest.removeprefix("sha256:")
    if not _SHA256.fullmatch(digest):
        raise ArtifactError("InvalidSpec", f"expected sha256 {value!r} is not 64 hex digits")
    return digest


def check_relative_path(path: str) -> str:
    """A manifest path, checked to stay inside the artifact directory.

    Rejects absolute paths, ``..`` and ``.`` segments, backslashes and empty segments, so
    no manifest can make a fetch write outside its destination.
    """
    if not isinstance(path, str) or not path:
        raise ArtifactError("InvalidArtifact", f"manifest path {path!r} is empty or not a string")
    bad = (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or re.match(r"^[A-Za-z]:", path) is not None
        or any(part in ("", ".", "..") for part in path.split("/"))
    )
    if bad:
        raise ArtifactError(
            "InvalidArtifact", f"manifest path {path!r} is not a plain relative path inside the artifact"
        )
    return path

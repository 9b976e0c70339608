"""Publishing a built artifact directory to ``<output-uri>/<name>/`` through fsspec
(file:// and plain paths, s3:// with ``modelops[s3]``, any other fsspec protocol).

Files are written first and ``manifest.json`` last, so a reader that finds the manifest
finds every file it lists. Publishing is idempotent: a destination whose manifest is
byte-identical already holds this artifact (a restarted Job), and is left as it is; one
holding a different artifact is refused, never overwritten.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from modelops.artifact.format import MANIFEST_FILE
from modelops.artifact.verify import list_files
from modelops.training.errors import TrainingError

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def artifact_uri(output_uri: str, name: str) -> str:
    """``<output-uri>/<name>/`` (the URI a ModelVersion's ``spec.artifact.uri`` takes)."""
    return f"{output_uri.rstrip('/')}/{name}/"


def publish(local_dir: Path, output_uri: str, name: str) -> str:
    """Copy the artifact in ``local_dir`` to ``<output_uri>/<name>/``; returns that URI."""
    uri = artifact_uri(output_uri, name)
    fs, root = _filesystem(uri)
    root = root.rstrip("/")
    manifest = (local_dir / MANIFEST_FILE).read_bytes()
    existing = _read_if_exists(fs, f"{root}/{MANIFEST_FILE}", uri)
    if existing is not None:
        if existing == manifest:
            return uri
        raise TrainingError(
            "OutputExists", f"{uri} already holds a different artifact (its manifest.json differs); "
            "choose another name or output uri"
        )
    try:
        fs.makedirs(root, exist_ok=True)
        for rel in sorted(list_files(local_dir)):
            if rel != MANIFEST_FILE:
                fs.pipe_file(f"{root}/{rel}", (local_dir / rel).read_bytes())
        fs.pipe_file(f"{root}/{MANIFEST_FILE}", manifest)
    except OSError as exc:
        raise TrainingError("OutputFailed", f"writing the artifact to {uri} failed: {exc}") from None
    return uri


def _filesystem(uri: str) -> tuple[Any, str]:
    scheme = urllib.parse.urlsplit(uri).scheme
    try:
        import fsspec
    except ImportError:
        raise TrainingError("OutputFailed", "writing artifacts needs fsspec (pip install 'modelops[s3]')") from None
    try:
        fs, root = fsspec.core.url_to_fs(uri)
    except ImportError as exc:
        raise TrainingError(
            "OutputFailed", f"writing to {scheme}:// needs a package that is missing: {exc} "
            "(pip install 'modelops[s3]' for s3://)"
        ) from None
    except ValueError as exc:
        raise TrainingError("OutputFailed", f"output uri {uri!r} is not supported: {exc}") from None
    return fs, str(root)


def _read_if_exists(fs: Any, path: str, uri: str) -> bytes | None:
    try:
        return bytes(fs.cat_file(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TrainingError("OutputFailed", f"cannot look at {uri}: {exc}") from None

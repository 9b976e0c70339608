"""Where a validation's results go: the termination log (what the operator reads) and
the full report next to the artifact (what people read later).

Writing the report is best effort: a read-only location (an http(s):// artifact, a
bucket the Job may not write, a read-only volume) is not an error, since the verdict is in
the termination message; the reason it was not written goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

REPORT_SUFFIX = ".validation.json"


def default_report_uri(artifact_uri: str) -> str:
    """``<artifact>.validation.json`` beside the artifact directory: not inside it, where
    a file the manifest does not list would make the artifact fail verification."""
    return artifact_uri.rstrip("/") + REPORT_SUFFIX


def write_report(uri: str, data: bytes) -> str | None:
    """Write ``data`` to ``uri`` (a path, file://, or any fsspec protocol such as s3://).
    None when written, else why not."""
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        return f"{uri}: http(s) locations are read-only"
    if len(scheme) <= 1 or scheme == "file":
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            return f"{uri}: a file uri on another host is not writable from here"
        path = Path(urllib.request.url2pathname(parsed.path)) if scheme == "file" else Path(uri)
        return _write_local(path, data)
    return _write_fsspec(uri, data)


def _write_local(path: Path, data: bytes) -> str | None:
    # Atomic: a reader never sees half a report, a rerun replaces it whole.
    try:
        fd, tmp = tempfile.mkstemp(prefix=".validation-", dir=path.parent)
    except OSError as exc:
        return f"{path}: cannot write in {path.parent}: {exc.strerror or exc}"
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return f"{path}: {exc.strerror or exc}"
    return None


def _write_fsspec(uri: str, data: bytes) -> str | None:
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        fs.pipe_file(path, data)
    except ImportError as exc:
        return f"{uri}: writing needs a package that is missing ({exc}; pip install 'modelops[s3]' for s3://)"
    # Any backend failure (denied, read-only bucket, unreachable endpoint; backends raise
    # their own types) only means there is no report: it must never turn a verdict into a crash.
    except Exception as exc:
        return f"{uri}: {type(exc).__name__}: {exc}"
    return None


def write_termination_log(path: Path, data: bytes) -> str | None:
    """None when written, else why not (outside a pod /dev/termination-log may not exist)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None

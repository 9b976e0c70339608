"""Reading a dataset (CSV or Parquet) named by a URI, with the sha256 of the bytes read.

Used by the trainer (`modelops train --dataset-uri`) and validation (`holdoutUri`):

    dataset = read_dataset("s3://data/churn/2026-11.parquet")
    dataset.frame, dataset.sha256, dataset.size_bytes

Schemes: plain paths and ``file://``; ``http://`` and ``https://`` (standard library);
anything else (``s3://``, ``gs://``, ``memory://``…) through fsspec when it and the
protocol's package are installed (``pip install 'modelops[s3]'`` for s3://; endpoint and
credentials the usual way, e.g. ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``). The format
comes from the name (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``) unless given.

The whole file is read into memory, hashed as it streams, and parsed from those very
bytes, so the digest recorded in lineage is the digest of what was trained on. Reads are
capped at ``max_bytes`` (a larger file is refused, never read past the cap) and remote
reads must finish within ``deadline_s`` in total (a slow trickle is stopped, not waited
for). Every failure is a DatasetError with a CamelCase reason naming the URI.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DatasetFormat = Literal["csv", "parquet"]
Reason = Literal["DatasetNotFound", "DatasetTooLarge", "DatasetTimeout", "UnsupportedDataset", "InvalidDataset"]

DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB: the trainer's pod holds the bytes and the frame in memory
DEFAULT_DEADLINE_S = 600.0
CHUNK_SIZE = 1 << 20
# Per socket operation; the total is bounded by the deadline.
_SOCKET_TIMEOUT_S = 30.0
_SUFFIXES: dict[str, DatasetFormat] = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


class DatasetError(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True)
class Dataset:
    uri: str
    format: DatasetFormat
    sha256: str
    size_bytes: int
    frame: Any = field(repr=False)  # pandas.DataFrame


def dataset_format(uri: str) -> DatasetFormat:
    """The format a dataset URI's name says; UnsupportedDataset otherwise."""
    name = urllib.parse.urlsplit(uri).path.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    raise DatasetError(
        "UnsupportedDataset",
        f"{uri}: cannot tell the format from the name (expected {', '.join(_SUFFIXES)}); pass the format explicitly",
    )


def read_dataset(
    uri: str,
    *,
    format: DatasetFormat | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Dataset:
    """The dataset at ``uri`` as a pandas DataFrame, with the sha256 of its bytes."""
    fmt = format or dataset_format(uri)
    if fmt not in ("csv", "parquet"):
        raise DatasetError("UnsupportedDataset", f"{uri}: format {fmt!r} is not csv or parquet")
    opener, remote = _opener(uri)
    if remote:
        data = _within_deadline(lambda cancelled: _read_capped(uri, opener, max_bytes, cancelled), uri, deadline_s)
    else:
        data = _read_capped(uri, opener, max_bytes, threading.Event())
    frame = _parse(uri, fmt, data)
    return Dataset(uri=uri, format=fmt, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), frame=frame)


# An opened file: its size when the source tells it up front, its chunks, how to close it.
Opened = tuple[int | None, Iterator[bytes], Callable[[], None]]
Opener = Callable[[], Opened]


def _opener(uri: str) -> tuple[Opener, bool]:
    if not uri or not uri.strip():
        raise DatasetError("UnsupportedDataset", "dataset uri is empty")
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme == "" or len(scheme) == 1:  # a path (a one-letter scheme is a drive letter)
        return (lambda: _open_local(uri, Path(uri))), False
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError("UnsupportedDataset", f"file uri {uri!r} names a remote host")
        return (lambda: _open_local(uri, Path(urllib.request.url2pathname(parsed.path)))), False
    if scheme in ("http", "https"):
        return (lambda: _open_http(uri)), True
    return _fsspec_opener(uri, scheme), True


def _open_local(uri: str, path: Path) -> Opened:
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise DatasetError("DatasetNotFound", f"{uri}: {path} does not exist") from None
    except OSError as exc:
        raise DatasetError("DatasetNotFound", f"{uri}: {path} cannot be read: {exc.strerror}") from None
    return path.stat().st_size, _file_chunks(f), f.close


def _file_chunks(f: Any) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_SIZE):
        yield chunk


def _open_http(uri: str) -> Opened:
    request = urllib.request.Request(uri, headers={"User-Agent": "modelops-dataset"})
    try:
        response = urllib.request.urlopen(request, timeout=_SOCKET_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DatasetError("DatasetNotFound", f"GET {uri} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DatasetError("DatasetNotFound", f"GET {uri} failed: {getattr(exc, 'reason', exc)}") from None
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    return size, _http_chunks(uri, response), response.close


def _http_chunks(uri: str, response: Any) -> Iterator[bytes]:
    while True:
        try:
            chunk = response.read1(CHUNK_SIZE)
        except (OSError, urllib.error.URLError) as exc:
            raise DatasetError("DatasetNotFound", f"reading {uri} failed: {exc}") from None
        if not chunk:
            return
        yield chunk


def _fsspec_opener(uri: str, scheme: str) -> Opener:
    try:
        import fsspec
    except ImportError:
        raise DatasetError(
            "UnsupportedDataset",
            f"reading {scheme}:// needs fsspec and its {scheme} backend (pip install 'modelops[s3]' for s3://)",
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except ImportError as exc:
        raise DatasetError(
            "UnsupportedDataset", f"reading {scheme}:// needs a package that is missing: {exc}"
        ) from None
    except ValueError as exc:
        raise DatasetError("UnsupportedDataset", f"uri scheme of {uri!r} is not supported: {exc}") from None

    def open_() -> Opened:
        try:
            f = fs.open(path, "rb")
        except FileNotFoundError:
            raise DatasetError("DatasetNotFound", f"{uri} does not exist") from None
        except OSError as exc:
            raise DatasetError("DatasetNotFound", f"{uri} cannot be read: {exc}") from None
        size = getattr(f, "size", None)
        return (int(size) if isinstance(size, int) else None), _file_chunks(f), f.close

    return open_


def _read_capped(uri: str, opener: Opener, max_bytes: int, cancelled: threading.Event) -> bytes:
    size, chunks, close = opener()
    try:
        if size is not None and size > max_bytes:
            raise DatasetError("DatasetTooLarge", f"{uri} is {size} bytes, more than the {max_bytes} allowed")
        parts: list[bytes] = []
        total = 0
        for chunk in chunks:
            if cancelled.is_set():
                break
            total += len(chunk)
            if total > max_bytes:
                raise DatasetError("DatasetTooLarge", f"{uri} is larger than the {max_bytes} bytes allowed")
            parts.append(chunk)
        return b"".join(parts)
    finally:
        close()


def _within_deadline(read: Callable[[threading.Event], bytes], uri: str, deadline_s: float) -> bytes:
    """``read`` on a daemon thread, given up on after ``deadline_s``: a stalled socket or a
    trickling server cannot hold the caller (the thread stops at its next chunk, or with
    the process)."""
    cancelled = threading.Event()
    outcome: list[bytes | BaseException] = []

    def run() -> None:
        try:
            outcome.append(read(cancelled))
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, name="modelops-dataset-read", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        cancelled.set()
        raise DatasetError(
            "DatasetTimeout", f"reading {uri} did not finish within {deadline_s:g}s (gave up after "
            f"{time.monotonic() - started:.1f}s)",
        )
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _parse(uri: str, fmt: DatasetFormat, data: bytes) -> Any:
    import pandas as pd

    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        compression = "gzip" if urllib.parse.urlsplit(uri).path.lower().endswith(".gz") else None
        return pd.read_csv(io.BytesIO(data), compression=compression)
    except ImportError as exc:
        raise DatasetError("UnsupportedDataset", f"reading {fmt} needs a package that is missing: {exc}") from None
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError("InvalidDataset", f"{uri} is not a readable {fmt} file: {exc}") from None

"""Reading the files of an artifact directory named by a URI.

Supported: plain paths and ``file://``; ``http://`` and ``https://`` (standard library,
with timeouts); any other scheme (``s3://``, ``gs://``, ``memory://``…) through fsspec
when fsspec and the protocol's package are installed (``pip install 'modelops[s3]'``).
A URI names the artifact directory; a trailing slash is optional.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator
from pathlib import Path
from typing import Any, Protocol

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import CHUNK_SIZE, check_relative_path

DEFAULT_TIMEOUT_S = 30.0

# Generators, so a reader that stops early can close the underlying file or connection.
Chunks = Generator[bytes, None, None]


class Source(Protocol):
    """A directory of files, readable by relative path."""

    uri: str

    def describe(self, path: str) -> str:
        """The full location of one file, for messages."""
        ...

    def iter_chunks(self, path: str) -> Chunks:
        """The file's bytes in chunks; ArtifactError(ArtifactNotFound) if it cannot be read."""
        ...


def read_limited(source: Source, path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a file (more are never downloaded)."""
    parts: list[bytes] = []
    size = 0
    chunks = source.iter_chunks(path)
    try:
        for chunk in chunks:
            parts.append(chunk[: limit - size])
            size += len(parts[-1])
            if size >= limit:
                break
    finally:
        chunks.close()
    return b"".join(parts)


def read_small(source: Source, path: str, max_bytes: int) -> bytes:
    """A whole small file, refusing one larger than ``max_bytes``."""
    data = read_limited(source, path, max_bytes + 1)
    if len(data) > max_bytes:
        raise ArtifactError(
            "InvalidArtifact", f"{source.describe(path)} is larger than the {max_bytes} bytes allowed for it"
        )
    return data


def open_source(uri: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Source:
    """The source for an artifact URI; ArtifactError(UnsupportedFormat) for a scheme that
    cannot be read here, naming the package that would read it."""
    if not uri or not uri.strip():
        raise ArtifactError("InvalidSpec", "artifact uri is empty")
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    # A one-letter scheme is a Windows drive letter, not a URL scheme.
    if scheme == "" or len(scheme) == 1:
        return LocalSource(uri, Path(uri))
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ArtifactError("UnsupportedFormat", f"file uri {uri!r} names a remote host")
        return LocalSource(uri, Path(urllib.request.url2pathname(parsed.path)))
    if scheme in ("http", "https"):
        return HttpSource(uri, timeout_s)
    return FsspecSource(uri)


class LocalSource:
    def __init__(self, uri: str, root: Path) -> None:
        self.uri = uri
        self.root = root

    def describe(self, path: str) -> str:
        return str(self.root / path)

    def iter_chunks(self, path: str) -> Chunks:
        target = self.root / check_relative_path(path)
        try:
            f = target.open("rb")
        except FileNotFoundError:
            raise ArtifactError("ArtifactNotFound", f"{target} does not exist") from None
        except OSError as exc:
            raise ArtifactError("ArtifactNotFound", f"{target} cannot be read: {exc.strerror}") from None
        return _file_chunks(f)


def _file_chunks(f: Any) -> Chunks:
    with f:
        while chunk := f.read(CHUNK_SIZE):
            yield chunk


class HttpSource:
    def __init__(self, uri: str, timeout_s: float) -> None:
        self.uri = uri
        self.base = uri if uri.endswith("/") else uri + "/"
        self.timeout_s = timeout_s

    def describe(self, path: str) -> str:
        return urllib.parse.urljoin(self.base, urllib.parse.quote(check_relative_path(path)))

    def iter_chunks(self, path: str) -> Chunks:
        url = self.describe(path)
        request = urllib.request.Request(url, headers={"User-Agent": "modelops-artifact"})
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ArtifactError("ArtifactNotFound", f"GET {url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ArtifactError("ArtifactNotFound", f"GET {url} failed: {reason}") from None
        return self._chunks(url, response)

    @staticmethod
    def _chunks(url: str, response: Any) -> Chunks:
        with response:
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, urllib.error.URLError) as exc:
                    raise ArtifactError("ArtifactNotFound", f"reading {url} failed: {exc}") from None
                if not chunk:
                    return
                yield chunk


class FsspecSource:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        scheme = urllib.parse.urlsplit(uri).scheme
        try:
            import fsspec
        except ImportError:
            raise ArtifactError(
                "UnsupportedFormat",
                f"reading {scheme}:// uris needs fsspec and its {scheme} backend "
                f"(pip install 'modelops[s3]' for s3://); uri {uri!r}",
            ) from None
        try:
            self.fs, root = fsspec.core.url_to_fs(uri)
        except ImportError as exc:
            raise ArtifactError(
                "UnsupportedFormat", f"reading {scheme}:// uris needs a package that is missing: {exc}"
            ) from None
        except ValueError as exc:
            raise ArtifactError(
                "UnsupportedFormat", f"uri scheme of {uri!r} is not supported: {exc}"
            ) from None
        self.root = root.rstrip("/")

    def describe(self, path: str) -> str:
        return self.uri.rstrip("/") + "/" + path

    def iter_chunks(self, path: str) -> Chunks:
        full = f"{self.root}/{check_relative_path(path)}"
        try:
            f = self.fs.open(full, "rb")
        except FileNotFoundError:
            raise ArtifactError("ArtifactNotFound", f"{self.describe(path)} does not exist") from None
        except OSError as exc:
            raise ArtifactError("ArtifactNotFound", f"{self.describe(path)} cannot be read: {exc}") from None
        return _file_chunks(f)


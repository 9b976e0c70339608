"""Reading the files of an artifact directory named by a URI.

Supported: plain paths and ``file://``; ``http://`` and ``https://`` (standard library,
with timeouts); any other scheme (``s3://``, ``gs://``, ``memory://``…) through fsspec
when fsspec and the protocol's package are installed (``pip install 'modelops[s3]'``).
A URI names the artifact directory; a trailing slash is optional.

Two limits bound every download. ``timeout_s`` bounds each socket operation (connect, one
read); it alone does not bound a download, since a server sending one byte every 0.5 s
never lets one read time out. A ``Deadline`` bounds the whole download (every file read
through one source): it is checked between reads, and over HTTP a watchdog shuts the
connection's socket down when it passes, which also ends a read blocked on a server that
trickles its status line or headers. Passing it is ``ArtifactUnreachable``, with the
bytes received, the time taken and the deadline in the message.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import CHUNK_SIZE, check_relative_path

DEFAULT_TIMEOUT_S = 30.0
# Whole downloads: the operator's inspection reads two small files; the init container's
# fetch reads the model too, which may be large.
DEFAULT_INSPECTION_DEADLINE_S = 60.0
DEFAULT_FETCH_DEADLINE_S = 1800.0

# Generators, so a reader that stops early can close the underlying file or connection.
Chunks = Generator[bytes, None, None]


@dataclass
class Deadline:
    """A total time for a download, and the bytes it received so far (for the message)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    received: int = 0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"a download deadline must be positive, not {self.seconds}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self, where: str) -> None:
        if self.expired():
            raise self.error(where)

    def error(self, where: str) -> ArtifactError:
        return ArtifactError(
            "ArtifactUnreachable",
            f"{where}: {self.received} bytes received in {self.elapsed():.1f}s, past the "
            f"{self.seconds:g}s deadline for downloading the artifact",
        )


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


def open_source(uri: str, timeout_s: float = DEFAULT_TIMEOUT_S, deadline: Deadline | None = None) -> Source:
    """The source for an artifact URI, every read through it bounded by ``deadline`` (by
    default, one of DEFAULT_INSPECTION_DEADLINE_S from now); ArtifactError(UnsupportedFormat)
    for a scheme that cannot be read here, naming the package that would read it."""
    deadline = deadline or Deadline(DEFAULT_INSPECTION_DEADLINE_S)
    if not uri or not uri.strip():
        raise ArtifactError("InvalidSpec", "artifact uri is empty")
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    # A one-letter scheme is a Windows drive letter, not a URL scheme.
    if scheme == "" or len(scheme) == 1:
        return LocalSource(uri, Path(uri), deadline)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ArtifactError("UnsupportedFormat", f"file uri {uri!r} names a remote host")
        return LocalSource(uri, Path(urllib.request.url2pathname(parsed.path)), deadline)
    if scheme in ("http", "https"):
        return HttpSource(uri, timeout_s, deadline)
    return FsspecSource(uri, deadline)


class LocalSource:
    def __init__(self, uri: str, root: Path, deadline: Deadline | None = None) -> None:
        self.uri = uri
        self.root = root
        self.deadline = deadline

    def describe(self, path: str) -> str:
        return str(self.root / path)

    def iter_chunks(self, path: str) -> Chunks:
        target = self.root / check_relative_path(path)
        if self.deadline is not None:
            self.deadline.check(str(target))
        try:
            f = target.open("rb")
        except FileNotFoundError:
            raise ArtifactError("ArtifactNotFound", f"{target} does not exist") from None
        except OSError as exc:
            raise ArtifactError("ArtifactNotFound", f"{target} cannot be read: {exc.strerror}") from None
        return _file_chunks(f, self.deadline, str(target))


def _file_chunks(f: Any, deadline: Deadline | None, where: str) -> Chunks:
    # A file system read is not interrupted; the deadline is checked between chunks.
    with f:
        while chunk := f.read(CHUNK_SIZE):
            if deadline is not None:
                deadline.received += len(chunk)
                deadline.check(where)
            yield chunk


class HttpSource:
    def __init__(self, uri: str, timeout_s: float, deadline: Deadline) -> None:
        self.uri = uri
        self.base = uri if uri.endswith("/") else uri + "/"
        self.timeout_s = timeout_s
        self.deadline = deadline

    def describe(self, path: str) -> str:
        return urllib.parse.urljoin(self.base, urllib.parse.quote(check_relative_path(path)))

    def iter_chunks(self, path: str) -> Chunks:
        url = self.describe(path)
        self.deadline.check(f"GET {url}")
        watchdog = _Watchdog(self.deadline)
        opener = urllib.request.build_opener(_WatchedHttpHandler(watchdog), _WatchedHttpsHandler(watchdog))
        request = urllib.request.Request(url, headers={"User-Agent": "modelops-artifact"})
        try:
            response = opener.open(request, timeout=min(self.timeout_s, self.deadline.remaining()))
        except urllib.error.HTTPError as exc:
            watchdog.cancel()
            exc.close()
            raise ArtifactError("ArtifactNotFound", f"GET {url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            watchdog.cancel()
            if self.deadline.expired():
                raise self.deadline.error(f"GET {url}") from None
            reason = getattr(exc, "reason", exc)
            raise ArtifactError("ArtifactNotFound", f"GET {url} failed: {reason}") from None
        return self._chunks(url, response, watchdog, self.deadline)

    @staticmethod
    def _chunks(url: str, response: Any, watchdog: _Watchdog, deadline: Deadline) -> Chunks:
        try:
            with response:
                while True:
                    try:
                        # read1: what one recv gives, so a trickle is counted and checked as it comes.
                        chunk = response.read1(CHUNK_SIZE)
                    except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
                        if deadline.expired():
                            raise deadline.error(f"reading {url}") from None
                        raise ArtifactError("ArtifactNotFound", f"reading {url} failed: {exc}") from None
                    deadline.received += len(chunk)
                    # The watchdog ends a blocked read with an empty one: not the end of the file.
                    deadline.check(f"reading {url}")
                    if not chunk:
                        return
                    yield chunk
        finally:
            watchdog.cancel()


class _Watchdog:
    """Shuts down the sockets of one request when the deadline passes, ending any read."""

    def __init__(self, deadline: Deadline) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._fired = False
        self._timer = threading.Timer(max(deadline.remaining(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self._fired
        if fired:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHttpConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self._watchdog.watch(self.sock)


class _WatchedHttpsConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self._watchdog.watch(self.sock)


class _WatchedHttpHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHttpConnection, watchdog=self._watchdog), req)


class _WatchedHttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(_WatchedHttpsConnection, watchdog=self._watchdog), req,
            context=self._context,  # type: ignore[attr-defined]
        )


class FsspecSource:
    def __init__(self, uri: str, deadline: Deadline) -> None:
        self.uri = uri
        self.deadline = deadline
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
        self.deadline.check(self.describe(path))
        try:
            f = self.fs.open(full, "rb")
        except FileNotFoundError:
            raise ArtifactError("ArtifactNotFound", f"{self.describe(path)} does not exist") from None
        except OSError as exc:
            raise ArtifactError("ArtifactNotFound", f"{self.describe(path)} cannot be read: {exc}") from None
        return _file_chunks(f, self.deadline, self.describe(path))


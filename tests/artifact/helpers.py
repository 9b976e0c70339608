"""Shared artifact-test values, and tampering with artifact directories the way an attacker
or a broken upload would."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from modelops.artifact.format import MANIFEST_FILE
from modelops.artifact.manifest import Manifest
from modelops.artifact.verify import list_files


@dataclass(frozen=True)
class Built:
    path: Path
    sha256: str


@dataclass(frozen=True)
class Dataset:
    model: Any
    frame: Any
    target: Any

    @property
    def features(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def resign(root: Path) -> str:
    """Rewrite the manifest for the files now in ``root``: a consistent artifact whose
    digest is new. Returns that digest."""
    paths = [p for p in list_files(root) if p != MANIFEST_FILE]
    manifest = Manifest.for_directory(root, paths)
    (root / MANIFEST_FILE).write_bytes(manifest.to_bytes())
    return manifest.digest


def edit_json(path: Path, **changes: object) -> None:
    raw = orjson.loads(path.read_bytes())
    raw.update(changes)
    path.write_bytes(orjson.dumps(raw))


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


class RecordingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory and remembers every path requested (and logs nothing)."""

    requested: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.requested.append(self.path)


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 (a free port) serving ``root``: yields its base URL and
    the list of paths it is asked for."""
    requested: list[str] = []
    handler = functools.partial(
        type("Handler", (RecordingHandler,), {"requested": requested}), directory=str(root)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

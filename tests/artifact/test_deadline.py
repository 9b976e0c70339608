"""Every download has a total deadline: a server trickling one byte every 0.5 s, which never
lets a single read time out, is given up on with ArtifactUnreachable and the figures
(issue 12, item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelops.artifact.errors import ArtifactError
from modelops.artifact.fetching import fetch
from modelops.artifact.inspection import inspect_remote
from modelops.artifact.sources import Deadline
from modelops.cli import main

from .helpers import Built
from .trickle import serve_trickle

FIGURES = re.compile(r"(\d+) bytes received in (\d+\.\d)s, past the 1\.5s deadline")


def _figures(message: str) -> tuple[int, float]:
    found = FIGURES.search(message)
    assert found is not None, message
    return int(found.group(1)), float(found.group(2))


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_an_inspection_of_a_trickling_server_ends_at_its_deadline(artifact: Built, headers_too: bool) -> None:
    with serve_trickle(0.5, headers_too=headers_too) as server, pytest.raises(ArtifactError) as err:
        # A per-read timeout far longer than the test: only the total deadline can end it.
        inspect_remote(f"{server.url}/bc", artifact.sha256, timeout_s=60.0, deadline_s=1.5)
    assert err.value.reason == "ArtifactUnreachable"
    assert "manifest.json" in err.value.message
    received, _elapsed = _figures(err.value.message)
    assert received >= 1 or headers_too  # body bytes did arrive, slowly (headers are not counted)
    assert server.requests == ["GET /bc/manifest.json HTTP/1.1"]


def test_a_fetch_from_a_trickling_server_ends_at_its_deadline(artifact: Built, tmp_path: Path) -> None:
    with serve_trickle(0.5) as server, pytest.raises(ArtifactError) as err:
        fetch(f"{server.url}/bc", artifact.sha256, tmp_path / "dest", timeout_s=60.0, deadline_s=1.5)
    assert err.value.reason == "ArtifactUnreachable"
    _figures(err.value.message)


def test_the_fetch_command_takes_a_deadline(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_trickle(0.5) as server:
        code = main(["fetch", "--uri", f"{server.url}/bc", "--sha256", artifact.sha256,
                     "--dest", str(tmp_path / "dest"), "--timeout", "60", "--deadline", "1.5", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "ArtifactUnreachable" in err
    _figures(err)


def test_a_deadline_is_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Deadline(0)

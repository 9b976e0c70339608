"""`modelops fetch`, as the serving pod's init container runs it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelops.artifact.format import canonical_json
from modelops.artifact.loading import load_artifact
from modelops.artifact.manifest import Manifest
from modelops.cli import main

from .helpers import Built, flip_last_byte, serve_directory


def _fetch(uri: str, sha: str, dest: Path, *extra: str) -> int:
    return main(["fetch", "--uri", uri, "--sha256", sha, "--dest", str(dest), *extra])


def test_fetch_over_http_verifies_every_file_and_prints_the_digest(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "model"
    with serve_directory(artifact.path) as (base, requested):
        assert _fetch(base, artifact.sha256, dest) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == artifact.sha256
    assert "model.skops" in err
    assert "sha256 verified" in err
    assert sorted(requested) == ["/manifest.json", "/metadata.json", "/model.skops", "/profile.json"]
    assert load_artifact(dest, artifact.sha256).sha256 == artifact.sha256


def test_a_second_fetch_into_the_same_directory_keeps_verified_files(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "model"
    assert _fetch(str(artifact.path), artifact.sha256, dest) == 0
    (dest / ".modelops-part-leftover").write_bytes(b"from an interrupted run")
    assert _fetch(str(artifact.path), artifact.sha256, dest) == 0
    assert "already present" in capsys.readouterr().err
    assert load_artifact(dest, artifact.sha256).sha256 == artifact.sha256


def test_a_tampered_file_fails_with_one_clear_line_and_leaves_no_complete_artifact(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flip_last_byte(artifact.path / "profile.json")
    termination_log = tmp_path / "termination-log"
    termination_log.touch()
    dest = tmp_path / "model"
    code = _fetch(artifact.path.as_uri(), artifact.sha256, dest, "--termination-log", str(termination_log))
    assert code != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert errors[0].startswith("modelops fetch: error: DigestMismatch:")
    assert "profile.json" in errors[0]
    assert termination_log.read_text().startswith("DigestMismatch:")
    assert not (dest / "manifest.json").exists()
    assert not (dest / "profile.json").exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".modelops-part-")]


def test_a_wrong_digest_fails_before_downloading_anything(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_directory(artifact.path) as (base, requested):
        assert _fetch(base, "f" * 64, tmp_path / "model", "--quiet") == 1
    assert requested == ["/manifest.json"]
    assert "DigestMismatch" in capsys.readouterr().err


def test_a_manifest_reaching_outside_the_destination_writes_nothing_there(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Served at /artifact/: "../escape.txt" is a real file one level up, which a fetch
    # without path checks would download and write one level above its destination.
    payload = b"overwritten!"
    (artifact.path.parent / "escape.txt").write_bytes(payload)
    files = [
        {"path": "../escape.txt", "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)},
        *(e.to_json() for e in Manifest.from_bytes((artifact.path / "manifest.json").read_bytes()).files),
    ]
    manifest = canonical_json({"files": files, "formatVersion": 1})
    (artifact.path / "manifest.json").write_bytes(manifest)
    dest = tmp_path / "dest" / "model"
    with serve_directory(artifact.path.parent) as (base, _):
        assert _fetch(f"{base}/artifact/", hashlib.sha256(manifest).hexdigest(), dest) == 1
    err = capsys.readouterr().err
    assert "InvalidArtifact" in err
    assert "../escape.txt" in err
    assert not (tmp_path / "dest" / "escape.txt").exists()


def test_files_that_are_not_the_artifacts_own_are_refused(
    artifact: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    assert _fetch(str(artifact.path), artifact.sha256, dest) == 1
    assert "notes.txt" in capsys.readouterr().err
    assert (dest / "notes.txt").read_text() == "mine"


def test_a_missing_artifact_is_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _fetch(str(tmp_path / "nothing"), "a" * 64, tmp_path / "dest") == 1
    assert "ArtifactNotFound" in capsys.readouterr().err

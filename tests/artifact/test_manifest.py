"""manifest.json: canonical bytes, the digest a user can compute by hand, safe paths."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import check_relative_path, normalize_digest
from modelops.artifact.manifest import Manifest, ManifestEntry

from .helpers import Built

DIGEST = "ab" * 32


def test_manifest_bytes_are_canonical_and_sorted_by_path() -> None:
    manifest = Manifest(
        files=(
            ManifestEntry(path="profile.json", size=2, sha256=DIGEST),
            ManifestEntry(path="metadata.json", size=1, sha256=DIGEST),
        )
    )
    assert manifest.to_bytes() == (
        b'{"files":[{"path":"metadata.json","sha256":"' + DIGEST.encode() + b'","size":1},'
        b'{"path":"profile.json","sha256":"' + DIGEST.encode() + b'","size":2}],"formatVersion":1}'
    )
    assert manifest.digest == hashlib.sha256(manifest.to_bytes()).hexdigest()


def test_digest_is_what_sha256sum_prints(pristine: Built) -> None:
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        pytest.skip("sha256sum is not installed")
    out = subprocess.run(
        [sha256sum, str(pristine.path / "manifest.json")], capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[0] == pristine.sha256


def test_manifest_lists_every_other_file_with_size_and_sha256(pristine: Built) -> None:
    manifest = Manifest.from_bytes((pristine.path / "manifest.json").read_bytes())
    assert manifest.paths == ("metadata.json", "model.skops", "profile.json")
    for entry in manifest.files:
        data = (pristine.path / entry.path).read_bytes()
        assert entry.size == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()


def test_a_manifest_in_another_layout_is_refused_so_one_content_has_one_digest(pristine: Built) -> None:
    raw = orjson.loads((pristine.path / "manifest.json").read_bytes())
    pretty = orjson.dumps(raw, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    with pytest.raises(ArtifactError, match="not canonical") as err:
        Manifest.from_bytes(pretty)
    assert err.value.reason == "InvalidArtifact"


def test_duplicate_paths_are_refused() -> None:
    entry = ManifestEntry(path="metadata.json", size=1, sha256=DIGEST)
    with pytest.raises(ArtifactError, match="more than once"):
        Manifest(files=(entry, entry))


def test_a_newer_format_version_is_unsupported() -> None:
    with pytest.raises(ArtifactError) as err:
        Manifest.from_bytes(b'{"files":[],"formatVersion":2}')
    assert err.value.reason == "UnsupportedFormat"


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "a/../../b", "./model.skops", "a//b", "a\\..\\b", "C:/x", "", "a/"],
)
def test_paths_that_could_leave_the_artifact_directory_are_refused(path: str) -> None:
    with pytest.raises(ArtifactError) as err:
        check_relative_path(path)
    assert err.value.reason == "InvalidArtifact"


def test_paths_in_subdirectories_are_allowed() -> None:
    assert check_relative_path("assets/vocab.txt") == "assets/vocab.txt"


def test_the_manifest_cannot_list_itself() -> None:
    with pytest.raises(ArtifactError, match="itself"):
        Manifest(files=(ManifestEntry(path="manifest.json", size=1, sha256=DIGEST),))


def test_expected_digests_are_normalised_and_checked() -> None:
    assert normalize_digest("sha256:" + DIGEST.upper()) == DIGEST
    with pytest.raises(ArtifactError) as err:
        normalize_digest("9f2c")
    assert err.value.reason == "InvalidSpec"


def test_manifest_for_directory_hashes_the_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.bin").write_bytes(b"hello")
    manifest = Manifest.for_directory(tmp_path, ["sub/a.bin"])
    assert manifest.files == (
        ManifestEntry(path="sub/a.bin", size=5, sha256=hashlib.sha256(b"hello").hexdigest()),
    )

"""Reading artifacts by URI: local paths, http(s) from a local server, fsspec protocols;
and inspect_remote, which reads only the manifest and the metadata."""

from __future__ import annotations

import importlib
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from modelops.artifact.errors import ArtifactError
from modelops.artifact.fetching import fetch
from modelops.artifact.format import MAX_MANIFEST_BYTES
from modelops.artifact.inspection import artifact_summary, check_declared_format, inspect_remote
from modelops.artifact.loading import load_artifact
from modelops.artifact.sources import open_source

from .helpers import Built, Dataset, edit_json, flip_last_byte, serve_directory


@pytest.fixture
def served(artifact: Built) -> Iterator[tuple[str, list[str]]]:
    """The artifact's parent directory over HTTP: (artifact URL, requested paths)."""
    with serve_directory(artifact.path.parent) as (base, requested):
        yield f"{base}/{artifact.path.name}/", requested


def test_inspect_remote_over_http_reads_only_manifest_and_metadata(
    artifact: Built, served: tuple[str, list[str]], breast_cancer: Dataset
) -> None:
    url, requested = served
    manifest, metadata = inspect_remote(url, artifact.sha256)
    assert sorted(requested) == ["/artifact/manifest.json", "/artifact/metadata.json"]
    assert metadata.feature_names == tuple(breast_cancer.features)
    summary = artifact_summary(manifest, metadata, artifact.sha256)
    assert summary["sha256"] == artifact.sha256
    assert summary["files"] == 3
    assert summary["sizeBytes"] == sum(p.stat().st_size for p in artifact.path.iterdir() if p.name != "manifest.json")
    assert summary["classes"] == ["0", "1"]
    assert summary["task"] == "classification"
    assert summary["features"] == breast_cancer.features
    assert set(summary["offlineMetrics"]) == {"accuracy", "f1", "roc_auc"}
    assert summary["frameworkVersions"]["scikit-learn"]


def test_the_summary_fits_the_model_version_status(artifact: Built) -> None:
    from modelops.api.modelversion import ArtifactSummary

    manifest, metadata = inspect_remote(str(artifact.path), artifact.sha256)
    summary = ArtifactSummary.model_validate(artifact_summary(manifest, metadata, artifact.sha256))
    assert summary.classes == ["0", "1"]
    assert summary.size_bytes == manifest.size_bytes


def test_the_declared_format_and_trust_are_checked_against_the_metadata(artifact: Built) -> None:
    _, metadata = inspect_remote(str(artifact.path), artifact.sha256)
    check_declared_format(metadata, "skops", trusted=False, where="mv/bc")
    with pytest.raises(ArtifactError, match="mv/bc") as err:
        check_declared_format(metadata, "joblib", trusted=True, where="mv/bc")
    assert err.value.reason == "UnsupportedFormat"
    joblib_metadata = metadata.model_copy(update={"format": "joblib", "model_file": "model.joblib"})
    with pytest.raises(ArtifactError) as err:
        check_declared_format(joblib_metadata, "joblib", trusted=False, where="mv/bc")
    assert err.value.reason == "UntrustedFormat"


def test_without_the_protocols_package_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # s3fs is installed for the other tests: hide it, and forget the class fsspec may have cached.
    monkeypatch.setitem(sys.modules, "s3fs", None)
    for protocol in ("s3", "s3a"):
        # (the module, not fsspec.registry, which is the read-only view fsspec exports)
        monkeypatch.delitem(importlib.import_module("fsspec.registry")._registry, protocol, raising=False)
    with pytest.raises(ArtifactError, match="s3") as err:
        open_source("s3://models/churn/v2/")
    assert err.value.reason == "UnsupportedFormat"


def test_inspect_remote_accepts_a_uri_without_trailing_slash(artifact: Built, served: tuple[str, list[str]]) -> None:
    url, _ = served
    _, metadata = inspect_remote(url.rstrip("/"), artifact.sha256)
    assert metadata.task == "classification"


def test_inspect_remote_does_not_notice_a_tampered_model_but_fetch_does(
    artifact: Built, served: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = served
    flip_last_byte(artifact.path / "model.skops")
    inspect_remote(url, artifact.sha256)  # by design: the operator never downloads the model
    with pytest.raises(ArtifactError, match=r"model\.skops") as err:
        fetch(url, artifact.sha256, tmp_path / "dest")
    assert err.value.reason == "DigestMismatch"
    assert not (tmp_path / "dest" / "model.skops").exists()
    assert not (tmp_path / "dest" / "manifest.json").exists()


def test_inspect_remote_checks_the_manifest_digest(artifact: Built, served: tuple[str, list[str]]) -> None:
    url, _ = served
    with pytest.raises(ArtifactError) as err:
        inspect_remote(url, "0" * 64)
    assert err.value.reason == "DigestMismatch"
    assert artifact.sha256 in err.value.message
    assert "0" * 64 in err.value.message


def test_inspect_remote_checks_the_metadata_against_the_manifest(
    artifact: Built, served: tuple[str, list[str]]
) -> None:
    url, _ = served
    edit_json(artifact.path / "metadata.json", task="regression")
    with pytest.raises(ArtifactError, match=r"metadata\.json") as err:
        inspect_remote(url, artifact.sha256)
    assert err.value.reason == "DigestMismatch"


def test_a_missing_artifact_over_http_is_not_found(served: tuple[str, list[str]]) -> None:
    url, _ = served
    with pytest.raises(ArtifactError, match="HTTP 404") as err:
        inspect_remote(url + "../nothing-here/", "0" * 64)
    assert err.value.reason == "ArtifactNotFound"


def test_an_unreachable_server_is_not_found(artifact: Built) -> None:
    with serve_directory(artifact.path) as (base, _):
        pass  # the port is closed again: nothing listens there now
    with pytest.raises(ArtifactError) as err:
        inspect_remote(base + "/artifact/", artifact.sha256, timeout_s=2)
    assert err.value.reason == "ArtifactNotFound"
    assert base in err.value.message


def test_an_oversized_manifest_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    (root / "manifest.json").write_bytes(b" " * (MAX_MANIFEST_BYTES + 10))
    with serve_directory(tmp_path) as (base, _), pytest.raises(ArtifactError, match="larger than") as err:
        inspect_remote(f"{base}/big", "0" * 64)
    assert err.value.reason == "InvalidArtifact"


def test_fetch_over_http_then_load(artifact: Built, served: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = served
    manifest = fetch(url, artifact.sha256, tmp_path / "dest")
    assert manifest.digest == artifact.sha256
    assert load_artifact(tmp_path / "dest", artifact.sha256).sha256 == artifact.sha256


def test_file_uris_and_plain_paths_name_the_same_artifact(artifact: Built) -> None:
    for uri in (str(artifact.path), artifact.path.as_uri(), artifact.path.as_uri() + "/"):
        _, metadata = inspect_remote(uri, artifact.sha256)
        assert metadata.target == "malignant"


def test_fsspec_protocols_are_read_through_fsspec(artifact: Built, tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    root = f"/artifacts-{tmp_path.name}"
    try:
        for path in artifact.path.iterdir():
            fs.pipe(f"{root}/{path.name}", path.read_bytes())
        _, metadata = inspect_remote(f"memory://{root}/", artifact.sha256)
        assert metadata.task == "classification"
        fetch(f"memory://{root}", artifact.sha256, tmp_path / "dest")
        assert load_artifact(tmp_path / "dest", artifact.sha256).sha256 == artifact.sha256
        with pytest.raises(ArtifactError) as err:
            inspect_remote(f"memory://{root}-missing/", artifact.sha256)
        assert err.value.reason == "ArtifactNotFound"
    finally:
        fs.rm(root, recursive=True)


def test_an_unknown_scheme_is_unsupported_and_says_so() -> None:
    with pytest.raises(ArtifactError, match="nosuchproto") as err:
        open_source("nosuchproto://bucket/model/")
    assert err.value.reason == "UnsupportedFormat"


def test_without_fsspec_s3_uris_name_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ArtifactError, match=r"modelops\[s3\]") as err:
        open_source("s3://models/churn/v2/")
    assert err.value.reason == "UnsupportedFormat"


def test_a_remote_file_uri_is_refused() -> None:
    with pytest.raises(ArtifactError) as err:
        open_source("file://otherhost/models/")
    assert err.value.reason == "UnsupportedFormat"


def test_local_copies_are_found_by_relative_path(artifact: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(artifact.path.parent)
    _, metadata = inspect_remote("artifact", artifact.sha256)
    assert metadata.task == "classification"
    shutil.rmtree(artifact.path)
    with pytest.raises(ArtifactError) as err:
        inspect_remote("artifact", artifact.sha256)
    assert err.value.reason == "ArtifactNotFound"


def test_a_remote_file_longer_than_listed_is_cut_off(
    artifact: Built, served: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = served
    with (artifact.path / "model.skops").open("ab") as f:
        f.write(b"\0" * 100_000)
    with pytest.raises(ArtifactError, match="larger than") as err:
        fetch(url, artifact.sha256, tmp_path / "dest")
    assert err.value.reason == "DigestMismatch"


def test_a_server_that_never_answers_times_out(artifact: Built) -> None:
    # A listening socket nobody accepts from: the connection opens, no answer ever comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(ArtifactError) as err:
            inspect_remote(f"http://127.0.0.1:{port}/artifact/", artifact.sha256, timeout_s=0.3)
    assert err.value.reason == "ArtifactNotFound"
    assert f"127.0.0.1:{port}" in err.value.message

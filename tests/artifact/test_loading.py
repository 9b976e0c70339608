"""load_artifact: verify everything first, load only trusted types, never half a model."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin

from modelops.artifact.build import build_artifact
from modelops.artifact.errors import ArtifactError
from modelops.artifact.loading import load_artifact

from .helpers import Built, Dataset, edit_json, flip_last_byte, resign


def _reason(path: Path, sha: str | None, **kwargs: bool) -> tuple[str, str]:
    with pytest.raises(ArtifactError) as err:
        load_artifact(path, sha, **kwargs)
    return err.value.reason, err.value.message


def test_a_pristine_artifact_loads_and_predicts_like_the_original(artifact: Built, breast_cancer: Dataset) -> None:
    loaded = load_artifact(artifact.path, artifact.sha256)
    assert loaded.sha256 == artifact.sha256
    assert loaded.metadata.feature_names == tuple(breast_cancer.features)
    assert loaded.profile.output.name == "predict"
    np.testing.assert_array_equal(
        loaded.model.predict(breast_cancer.frame), breast_cancer.model.predict(breast_cancer.frame)
    )


def test_without_an_expected_digest_the_files_are_still_checked(artifact: Built) -> None:
    assert load_artifact(artifact.path).sha256 == artifact.sha256
    flip_last_byte(artifact.path / "model.skops")
    assert _reason(artifact.path, None)[0] == "DigestMismatch"


def test_a_tampered_model_file_is_a_digest_mismatch_naming_the_file(artifact: Built) -> None:
    flip_last_byte(artifact.path / "model.skops")
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "DigestMismatch"
    assert "model.skops" in message


def test_a_tampered_and_resigned_manifest_does_not_match_the_expected_digest(artifact: Built) -> None:
    flip_last_byte(artifact.path / "model.skops")
    new_digest = resign(artifact.path)
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "DigestMismatch"
    assert artifact.sha256 in message
    assert new_digest in message


def test_tampered_metadata_is_a_digest_mismatch(artifact: Built) -> None:
    edit_json(artifact.path / "metadata.json", classes=[1, 0])
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "DigestMismatch"
    assert "metadata.json" in message


def test_a_missing_file_is_reported_as_not_found(artifact: Built) -> None:
    (artifact.path / "profile.json").unlink()
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "ArtifactNotFound"
    assert "profile.json" in message


def test_a_missing_directory_is_reported_as_not_found(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nowhere", None)[0] == "ArtifactNotFound"


def test_an_extra_file_the_manifest_does_not_list_is_refused(artifact: Built) -> None:
    (artifact.path / "sneaky.py").write_text("import os")
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "InvalidArtifact"
    assert "sneaky.py" in message


def test_path_traversal_in_the_manifest_is_refused(artifact: Built) -> None:
    (artifact.path / "manifest.json").write_bytes(
        b'{"files":[{"path":"../outside","sha256":"' + b"0" * 64 + b'","size":1}],"formatVersion":1}'
    )
    reason, message = _reason(artifact.path, None)
    assert reason == "InvalidArtifact"
    assert "../outside" in message


class Custom(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A user's own class, which skops would have to import to rebuild."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Custom:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.classes_[0])


def test_a_skops_file_with_a_type_outside_the_allow_list_is_untrusted(
    artifact: Built, breast_cancer: Dataset
) -> None:
    custom = Custom().fit(breast_cancer.frame.to_numpy(), breast_cancer.target)
    skops.io.dump(custom, artifact.path / "model.skops")
    digest = resign(artifact.path)
    reason, message = _reason(artifact.path, digest)
    assert reason == "UntrustedType"
    assert "Custom" in message


def _skops_calling(module: str, name: str, *args: str) -> bytes:
    """A hand-made skops file whose loading calls ``module.name(*args)`` (skops rebuilds a
    ConstructorFromReduceNode by calling its type with its content)."""
    from skops.io._protocol import PROTOCOL

    content = [{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                "content": json.dumps(arg), "is_json": True} for arg in args]
    schema = {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
              "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                          "content": content},
              "protocol": PROTOCOL, "_skops_version": skops.__version__}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def test_an_allowed_looking_alias_of_a_refused_function_is_untrusted(artifact: Built, tmp_path: Path) -> None:
    # numpy.lib._datasource._open is io.open: by name it is numpy, by what it is, file access.
    victim = tmp_path / "written-by-the-model-file"
    (artifact.path / "model.skops").write_bytes(_skops_calling("numpy.lib._datasource", "_open", str(victim), "w"))
    digest = resign(artifact.path)
    reason, message = _reason(artifact.path, digest)
    assert reason == "UntrustedType"
    assert "numpy.lib._datasource._open" in message
    assert not victim.exists()


@pytest.fixture
def joblib_artifact(tmp_path: Path, breast_cancer: Dataset) -> Built:
    out = tmp_path / "joblib"
    sha = build_artifact(
        breast_cancer.model, breast_cancer.frame, breast_cancer.features, breast_cancer.target, out, format="joblib"
    )
    return Built(out, sha)


def test_a_joblib_model_loads_only_when_trusted(joblib_artifact: Built, breast_cancer: Dataset) -> None:
    reason, message = _reason(joblib_artifact.path, joblib_artifact.sha256)
    assert reason == "UntrustedFormat"
    assert "trusted" in message
    loaded = load_artifact(joblib_artifact.path, joblib_artifact.sha256, trusted=True)
    assert loaded.metadata.format == "joblib"
    np.testing.assert_array_equal(
        loaded.model.predict(breast_cancer.frame), breast_cancer.model.predict(breast_cancer.frame)
    )


def test_a_trusted_pickle_is_still_verified_first(joblib_artifact: Built) -> None:
    # A pickle that would run code when loaded: the digest check must stop it before that.
    buffer = io.BytesIO()
    joblib.dump(ExplodingPickle(), buffer)
    (joblib_artifact.path / "model.joblib").write_bytes(buffer.getvalue())
    reason, _ = _reason(joblib_artifact.path, joblib_artifact.sha256, trusted=True)
    assert reason == "DigestMismatch"
    assert not ExplodingPickle.exploded


class ExplodingPickle:
    exploded = False

    def __init__(self) -> None:
        self.payload = "state, so that unpickling calls __setstate__"

    def __setstate__(self, state: object) -> None:
        ExplodingPickle.exploded = True


def test_the_exploding_pickle_would_explode_if_loaded() -> None:
    buffer = io.BytesIO()
    joblib.dump(ExplodingPickle(), buffer)
    buffer.seek(0)
    joblib.load(buffer)
    assert ExplodingPickle.exploded
    ExplodingPickle.exploded = False


def test_a_different_scikit_learn_minor_version_is_version_skew(artifact: Built) -> None:
    edit_json(
        artifact.path / "metadata.json",
        frameworkVersions={"python": "3.11.0", "scikit-learn": "0.24.2", "numpy": "1.0", "skops": "0.1"},
    )
    digest = resign(artifact.path)
    reason, message = _reason(artifact.path, digest)
    assert reason == "VersionSkew"
    assert "0.24.2" in message


def test_version_skew_can_be_allowed(
    artifact: Built, breast_cancer: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    edit_json(artifact.path / "metadata.json", frameworkVersions={"scikit-learn": "0.24.2"})
    digest = resign(artifact.path)
    with caplog.at_level(logging.WARNING, logger="modelops.artifact.loading"):
        loaded = load_artifact(artifact.path, digest, allow_version_skew=True)
    assert "0.24.2" in caplog.text
    assert len(loaded.model.predict(breast_cancer.frame)) == len(breast_cancer.frame)


def test_metadata_that_contradicts_the_model_is_invalid(artifact: Built) -> None:
    edit_json(artifact.path / "metadata.json", classes=["no", "yes"])
    digest = resign(artifact.path)
    reason, message = _reason(artifact.path, digest)
    assert reason == "InvalidArtifact"
    assert "classes" in message


def test_an_unknown_model_format_is_unsupported(artifact: Built) -> None:
    edit_json(artifact.path / "metadata.json", format="onnx")
    digest = resign(artifact.path)
    assert _reason(artifact.path, digest)[0] == "UnsupportedFormat"


def test_a_corrupt_model_consistent_with_its_manifest_is_invalid(artifact: Built) -> None:
    (artifact.path / "model.skops").write_bytes(b"not a zip file")
    digest = resign(artifact.path)
    assert _reason(artifact.path, digest)[0] == "InvalidArtifact"


@pytest.mark.parametrize(("cap", "file"), [("MAX_PROFILE_BYTES", "profile.json"),
                                           ("MAX_METADATA_BYTES", "metadata.json")])
def test_small_files_listed_over_their_cap_are_refused_before_reading(
    artifact: Built, monkeypatch: pytest.MonkeyPatch, cap: str, file: str
) -> None:
    monkeypatch.setattr(f"modelops.artifact.loading.{cap}", 100)
    reason, message = _reason(artifact.path, artifact.sha256)
    assert reason == "InvalidArtifact"
    assert file in message
    assert "over 100" in message


def test_a_profile_for_other_features_is_invalid(artifact: Built) -> None:
    edit_json(artifact.path / "metadata.json", features=[{"name": "only", "type": "numeric"}])
    digest = resign(artifact.path)
    reason, message = _reason(artifact.path, digest)
    assert reason == "InvalidArtifact"
    assert "profile" in message

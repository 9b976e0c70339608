"""Loading a verified artifact in the serving pod: all or nothing.

Every file is checked against the manifest (and the manifest against the expected
digest) before anything is deserialised, the model is deserialised from exactly the bytes
that were hashed, and the loaded model is checked against its metadata. Any failure raises
ArtifactError; no partly loaded artifact is ever returned.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import numbers
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import (
    MAX_METADATA_BYTES,
    MAX_PROFILE_BYTES,
    METADATA_FILE,
    PROFILE_FILE,
    ModelFormat,
)
from modelops.artifact.manifest import Manifest
from modelops.artifact.metadata import Metadata, json_labels
from modelops.artifact.trust import Refused, review, schema_types
from modelops.artifact.verify import check_metadata, check_size_cap, verify_directory, verify_entry
from modelops.drift.profile import Profile, ProfileError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedArtifact:
    model: Any
    metadata: Metadata
    profile: Profile
    manifest: Manifest
    sha256: str
    path: Path


def load_artifact(
    directory: str | Path,
    expected_sha256: str | None = None,
    trusted: bool = False,
    allow_version_skew: bool = False,
) -> LoadedArtifact:
    """Verify and load an artifact directory. ``trusted`` permits joblib/pickle models;
    ``allow_version_skew`` permits a scikit-learn major.minor other than the one that
    built the model."""
    root = Path(directory)
    # The files parsed below are hashed as they are read; the rest are hashed here.
    manifest = verify_directory(root, expected_sha256, read_later=_read_later(root))
    metadata_bytes = _read_verified(root, manifest, METADATA_FILE, cap=MAX_METADATA_BYTES)
    metadata = Metadata.from_bytes(metadata_bytes, source=str(root / METADATA_FILE))
    check_metadata(manifest, metadata, str(root / METADATA_FILE))
    profile = _load_profile(root, manifest, metadata)
    model_path = root / metadata.model_file
    model_bytes = _read_verified(root, manifest, metadata.model_file)
    trusted_types = _check_trust(metadata.format, model_bytes, model_path, trusted)
    check_version_skew(metadata, allow_version_skew, str(root / METADATA_FILE))
    model = _deserialize(metadata.format, model_bytes, model_path, trusted_types)
    check_model(model, metadata, str(model_path))
    return LoadedArtifact(
        model=model, metadata=metadata, profile=profile, manifest=manifest, sha256=manifest.digest, path=root
    )


def _read_later(root: Path) -> frozenset[str]:
    """metadata.json, profile.json and the model file it names (when it can be read)."""
    # Not verified yet, so read with a cap; any problem is reported once it is verified.
    try:
        with (root / METADATA_FILE).open("rb") as f:
            model_file = Metadata.from_bytes(f.read(MAX_METADATA_BYTES)).model_file
    except (ArtifactError, OSError):
        return frozenset({METADATA_FILE, PROFILE_FILE})
    return frozenset({METADATA_FILE, PROFILE_FILE, model_file})


def _read_verified(root: Path, manifest: Manifest, path: str, cap: int | None = None) -> bytes:
    """The file's bytes, checked against the manifest again: what is parsed is what was hashed.
    With a ``cap``, a file listed as larger is refused before it is read."""
    full = root / path
    entry = manifest.entry(path)
    if cap is not None:
        check_size_cap(entry, cap, str(full))
    try:
        data = full.read_bytes()
    except OSError as exc:
        raise ArtifactError("ArtifactNotFound", f"{full} cannot be read: {exc.strerror}") from None
    verify_entry(entry, data, str(full))
    return data


def _load_profile(root: Path, manifest: Manifest, metadata: Metadata) -> Profile:
    where = root / PROFILE_FILE
    try:
        profile = Profile.from_bytes(_read_verified(root, manifest, PROFILE_FILE, cap=MAX_PROFILE_BYTES))
    except ProfileError as exc:
        raise ArtifactError("InvalidArtifact", f"{where}: {exc}") from None
    if profile.feature_names != metadata.feature_names:
        raise ArtifactError(
            "InvalidArtifact",
            f"{where} profiles features {list(profile.feature_names)}, metadata lists "
            f"{list(metadata.feature_names)}",
        )
    expected_kind = "categorical" if metadata.task == "classification" else "numeric"
    if profile.output.kind != expected_kind:
        raise ArtifactError(
            "InvalidArtifact", f"{where}: output profile is {profile.output.kind}, expected {expected_kind}"
        )
    return profile


def skops_untrusted_types(data: bytes, where: str) -> list[str]:
    import skops.io

    try:
        return list(skops.io.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises many kinds on a corrupt file
        raise ArtifactError("InvalidArtifact", f"{where} is not a readable skops file: {exc}") from None


def review_skops_types(data: bytes, where: str) -> list[str]:
    """The types to pass to skops as trusted, once every type the file names (not only those
    skops distrusts) passed the allow-list; UntrustedType naming the refused ones otherwise.
    Nothing is rebuilt before this answers: refusing after loading would be too late for a
    type whose __del__ or __setstate__ has side effects."""
    untrusted = skops_untrusted_types(data, where)
    try:
        pairs = schema_types(data)
    except ValueError as exc:
        raise ArtifactError("InvalidArtifact", f"{where} is not a readable skops file: {exc}") from None
    refused = review(pairs)
    # What skops will be told to trust must be exactly what was reviewed.
    named = {f"{module}.{name}" for module, name in pairs}
    refused += [Refused(name, "not named by any node of the schema") for name in untrusted if name not in named]
    if refused:
        raise ArtifactError(
            "UntrustedType",
            f"{where} contains types outside the allow-list, refused before loading: "
            + "; ".join(str(r) for r in refused),
        )
    return untrusted


def _check_trust(fmt: ModelFormat, data: bytes, path: Path, trusted: bool) -> list[str]:
    """The skops types to pass to skops as trusted, once reviewed; refuses untrusted pickles."""
    if fmt == "joblib":
        if not trusted:
            raise ArtifactError(
                "UntrustedFormat",
                f"{path} is a joblib pickle, which can run arbitrary code when loaded; it loads only "
                "when the ModelVersion sets artifact.trusted: true",
            )
        return []
    return review_skops_types(data, str(path))


_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


def check_version_skew(metadata: Metadata, allow: bool, where: str) -> None:
    # The installed distribution's version, not `import sklearn`: the operator checks every
    # ModelVersion's artifact without loading a model, and importing scikit-learn (with the
    # scipy, pandas and pyarrow it pulls in) held 70 MiB of its memory for nothing.
    running = importlib.metadata.version("scikit-learn")
    built = metadata.framework_versions.get("scikit-learn")
    built_mm = _MAJOR_MINOR.match(built or "")
    running_mm = _MAJOR_MINOR.match(running)
    if built_mm is not None and running_mm is not None and built_mm.groups() == running_mm.groups():
        return
    message = (
        f"{where}: model built with scikit-learn {built or 'of an unrecorded version'}, "
        f"running {running} (major.minor differ)"
    )
    if not allow:
        raise ArtifactError("VersionSkew", message + "; set allowVersionSkew: true to serve it anyway")
    logger.warning("%s; serving anyway because version skew is allowed", message)


def _deserialize(fmt: ModelFormat, data: bytes, path: Path, trusted_types: list[str]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if fmt == "skops":
                import skops.io

                # Reviewed already; passing the list is what lets skops build them.
                model = skops.io.loads(data, trusted=trusted_types)
            else:
                import joblib

                model = joblib.load(io.BytesIO(data))
        except ArtifactError:
            raise
        except Exception as exc:  # any failure to rebuild the model means a bad artifact
            raise ArtifactError("InvalidArtifact", f"{path} cannot be loaded: {exc!r}") from None
    for w in caught:
        logger.warning("loading %s: %s", path, w.message)
    return model


def check_model(model: Any, metadata: Metadata, where: str) -> None:
    """The loaded model must be able to do what its metadata promises."""
    if not callable(getattr(model, "predict", None)):
        raise ArtifactError("InvalidArtifact", f"{where}: {type(model).__name__} has no predict method")
    classes = getattr(model, "classes_", None)
    if metadata.task == "classification":
        if classes is None:
            raise ArtifactError("InvalidArtifact", f"{where}: a classifier without classes_")
        try:
            labels = json_labels(classes)
        except ValueError as exc:
            raise ArtifactError("InvalidArtifact", f"{where}: {exc}") from None
        listed = list(metadata.classes or ())
        if labels != listed:
            raise ArtifactError("InvalidArtifact", f"{where}: model classes {labels}, metadata says {listed}")
    n_in = getattr(model, "n_features_in_", None)
    n_listed = len(metadata.features)
    if isinstance(n_in, numbers.Integral) and int(n_in) != n_listed:
        raise ArtifactError(
            "InvalidArtifact", f"{where}: model takes {n_in} features, metadata lists {n_listed}"
        )


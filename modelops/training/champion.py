"""The champion: the stable version's artifact, fetched and loaded through the same
verified path a serving pod uses (every file against the manifest, the manifest against
the digest, skops types against the allow-list)."""

from __future__ import annotations

from pathlib import Path

from modelops.artifact.errors import ArtifactError
from modelops.artifact.fetching import fetch
from modelops.artifact.loading import LoadedArtifact, load_artifact
from modelops.training.errors import TrainingError


def load_champion(
    uri: str, sha256: str, workdir: Path, *, trusted: bool = False, allow_version_skew: bool = False
) -> LoadedArtifact:
    dest = workdir / "champion"
    try:
        fetch(uri, sha256, dest)
        return load_artifact(dest, sha256, trusted=trusted, allow_version_skew=allow_version_skew)
    except ArtifactError as exc:
        # The artifact's own reason (DigestMismatch, ArtifactNotFound, VersionSkew, ...) is kept.
        raise TrainingError(exc.reason, f"champion {uri}: {exc.message}") from None

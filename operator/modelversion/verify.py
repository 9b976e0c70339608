"""Inspecting a ModelVersion's artifact: the one piece of I/O of its reconcile (run in the
inspections pool, see inspections.py)."""

from __future__ import annotations

from modelops.operator.modelversion.reconcile import Outcome, Verify


def inspect(request: Verify, timeout_s: float = 30.0, deadline_s: float = 60.0) -> Outcome:
    """Download and verify manifest.json and metadata.json only, both within ``deadline_s``;
    check that the artifact is in the format the ModelVersion declares, and the scikit-learn
    version the model was built with against ours (the serving image is this image)."""
    from modelops.artifact import ArtifactError, artifact_summary, inspect_remote
    from modelops.artifact.inspection import check_declared_format
    from modelops.artifact.loading import check_version_skew

    try:
        manifest, metadata = inspect_remote(request.uri, request.sha256, timeout_s, deadline_s)
        check_declared_format(metadata, request.format, request.trusted, request.uri)
        check_version_skew(metadata, request.allow_version_skew, request.uri)
    except ArtifactError as exc:
        return Outcome(reason=exc.reason, message=exc.message)
    return Outcome(summary=artifact_summary(manifest, metadata, request.sha256))

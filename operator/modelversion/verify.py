"""Inspecting a ModelVersion's artifact: the one piece of I/O of its reconcile (run in the
inspections pool, see inspections.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelops.api.modelversion import ArtifactLineageSummary
from modelops.operator.modelversion.reconcile import Outcome, Verify

# metadata.json lineage keys copied as they are (the rest: params as JSON text, the run).
_PLAIN = ("estimator", "parent", "datasetUri", "datasetSha256", "job", "driftPolicy", "driftEvaluation")


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
    summary = artifact_summary(manifest, metadata, request.sha256)
    lineage = lineage_summary(metadata.lineage)
    if lineage is not None:
        summary["lineage"] = lineage
    return Outcome(summary=summary)


def lineage_summary(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """metadata.json's lineage as status.artifact.lineage (through its model), or None when
    there is none. Free-form lineages (``--lineage-json``) keep what fits; nothing fails."""
    if not raw:
        return None
    out: dict[str, Any] = {k: str(raw[k]) for k in _PLAIN if isinstance(raw.get(k), (str, int, float))}
    params = raw.get("params")
    if isinstance(params, Mapping):
        out["params"] = {str(k): json.dumps(v, sort_keys=True, default=str) for k, v in params.items()}
    code = raw.get("trainingCode")
    if isinstance(code, Mapping):
        out["trainingCode"] = {str(k): str(v) for k, v in code.items() if v is not None}
    run = raw.get("experimentRun")
    if isinstance(run, Mapping) and run.get("runId"):
        out["experimentRun"] = {k: str(run[k]) for k in ("runId", "trackingUri", "experimentId") if run.get(k)}
    summary = ArtifactLineageSummary.model_validate(out)
    dumped: dict[str, Any] = summary.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {k: v for k, v in dumped.items() if v != {}}

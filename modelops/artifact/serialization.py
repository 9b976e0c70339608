"""Turning a fitted model into the bytes of the artifact's model file, and back for
`modelops package` (which reads a fitted model someone else saved)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import ModelFormat


def dump_model(model: Any, fmt: ModelFormat) -> bytes:
    if fmt == "skops":
        import skops.io

        return bytes(skops.io.dumps(model))
    if fmt == "joblib":
        import joblib

        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        return buffer.getvalue()
    raise ArtifactError("UnsupportedFormat", f"model format {fmt!r} is not one of skops, joblib")


def load_fitted_model(path: Path, trusted: bool = False) -> Any:
    """A fitted estimator from a ``.skops`` file (types reviewed against the allow-list) or,
    only when ``trusted``, a ``.joblib``/``.pkl`` pickle."""
    from modelops.artifact.loading import review_skops_types

    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError("ArtifactNotFound", f"{path} cannot be read: {exc.strerror}") from None
    if suffix == ".skops":
        import skops.io

        trusted_types = review_skops_types(data, str(path))
        try:
            return skops.io.loads(data, trusted=trusted_types)
        except Exception as exc:  # a corrupt skops file fails in many ways
            raise ArtifactError("InvalidArtifact", f"{path} cannot be loaded: {exc!r}") from None
    if suffix in (".joblib", ".pkl", ".pickle"):
        if not trusted:
            raise ArtifactError(
                "UntrustedFormat",
                f"{path} is a pickle, which can run arbitrary code when loaded; pass --trusted "
                "if you trust its origin",
            )
        import joblib

        return joblib.load(io.BytesIO(data))
    raise ArtifactError(
        "UnsupportedFormat", f"{path}: unknown model file type {suffix!r} (expected .skops or .joblib)"
    )

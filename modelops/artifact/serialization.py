"""Turning a fitted model into the bytes of the artifact's model file, and back for
`modelops package` (which reads a fitted model someone else saved)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import orjson

from modelops.artifact.errors import ArtifactError
from modelops.artifact.format import ModelFormat

_SCHEMA = "schema.json"
# The earliest time a zip entry can carry: fixed, so the same model gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def dump_model(model: Any, fmt: ModelFormat) -> bytes:
    if fmt == "skops":
        import skops.io

        return reproducible_skops(bytes(skops.io.dumps(model)))
    if fmt == "joblib":
        import joblib

        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        return buffer.getvalue()
    raise ArtifactError("UnsupportedFormat", f"model format {fmt!r} is not one of skops, joblib")


def reproducible_skops(data: bytes) -> bytes:
    """The same skops file, with the same bytes for the same model.

    skops names array files and memo ids after ``id()`` of the objects, and stamps zip
    entries with the current time, so every dump of one model differs and so would the
    artifact digest. Here ids and file names are renumbered in the order the schema first
    mentions them, entries are sorted and stamped with a fixed time.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        names = set(src.namelist())
        schema = orjson.loads(src.read(_SCHEMA))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def renumber(node: Any) -> Any:
            if isinstance(node, list):
                return [renumber(item) for item in node]
            if not isinstance(node, dict):
                return node
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                    out[key] = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str) and value in names and value != _SCHEMA:
                    suffix = value.rsplit(".", 1)[-1] if "." in value else ""
                    out[key] = files.setdefault(value, f"{len(files)}.{suffix}" if suffix else str(len(files)))
                else:
                    out[key] = renumber(value)
            return out

        renumbered = renumber(schema)
        entries = {_SCHEMA: orjson.dumps(renumbered, option=orjson.OPT_INDENT_2)}
        for name in names - {_SCHEMA}:
            if name not in files:
                # A file the schema does not mention: keep the file as skops wrote it.
                return data
            entries[files[name]] = src.read(name)
        compress_type = {info.filename: info.compress_type for info in src.infolist()}
        renamed_compress = {files.get(k, k): v for k, v in compress_type.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = renamed_compress[name]
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


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

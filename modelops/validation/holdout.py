"""The holdout: read through ``modelops.datasets`` (CSV or Parquet; paths, file://,
http(s)://, s3://), and the columns a validation takes from it, each missing one named."""

from __future__ import annotations

import urllib.parse
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.artifact.metadata import Metadata
from modelops.drift.categories import category_key
from modelops.validation.errors import CannotValidateError

# A row whose sensitive feature is missing is a group of its own, judged like the others
# (dropping it would hide exactly the rows nobody recorded the attribute of).
MISSING_GROUP = "(missing)"


def read_holdout(uri: str, *, deadline_s: float | None = None) -> Any:
    """The holdout as a ``modelops.datasets.Dataset``; HoldoutUnreadable naming the uri
    (retryable when it is remote and the read failed or timed out)."""
    from modelops.datasets import DEFAULT_DEADLINE_S, DatasetError, read_dataset

    try:
        return read_dataset(uri, deadline_s=DEFAULT_DEADLINE_S if deadline_s is None else deadline_s)
    except DatasetError as exc:
        retryable = exc.reason == "DatasetTimeout" or (is_remote(uri) and exc.reason == "DatasetNotFound")
        raise CannotValidateError(
            "HoldoutUnreadable", f"holdout {uri}: {exc.reason}: {exc.message}", retryable=retryable
        ) from None


def is_remote(uri: str) -> bool:
    """Whether ``uri`` is read over a network, where "not found" may be a passing failure
    (a refused connection, an object not uploaded yet) that a rerun can cure."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    return len(scheme) > 1 and scheme != "file"  # a one-letter scheme is a drive letter


def columns(frame: Any) -> list[str]:
    return [str(c) for c in frame.columns]


def target_values(frame: Any, metadata: Metadata, uri: str) -> npt.NDArray[Any]:
    if metadata.target not in frame.columns:
        raise CannotValidateError(
            "TargetMissing",
            f"holdout {uri} has no column {metadata.target!r} (the model's target); it has {_listing(frame)}",
        )
    return np.asarray(frame[metadata.target].to_numpy())


def model_input(frame: Any, metadata: Metadata, model: Any, uri: str, who: str = "the model") -> Any:
    """The holdout's columns the model reads, in its order: a frame when the model knows
    feature names, else an array (what it was fitted on, so scikit-learn does not warn)."""
    missing = [n for n in metadata.feature_names if n not in frame.columns]
    if missing:
        raise CannotValidateError(
            "FeatureMissing", f"holdout {uri} lacks {who}'s input columns {missing}; it has {_listing(frame)}"
        )
    x = frame[list(metadata.feature_names)]
    return x if getattr(model, "feature_names_in_", None) is not None else x.to_numpy()


def sensitive_groups(frame: Any, feature: str, uri: str) -> npt.NDArray[np.str_]:
    """Each row's group of the sensitive ``feature``, spelled as category keys (``1.0`` is
    group ``1``, as in a spec), missing values as ``(missing)``."""
    if feature not in frame.columns:
        raise CannotValidateError(
            "SensitiveFeatureMissing",
            f"holdout {uri} has no column {feature!r} (fairness.sensitiveFeature); it has {_listing(frame)}",
        )
    keys = [category_key(v) for v in frame[feature].tolist()]
    return np.asarray([MISSING_GROUP if k is None else k for k in keys], dtype=np.str_)


def _listing(frame: Any, limit: int = 20) -> str:
    names = columns(frame)
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

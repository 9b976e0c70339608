"""The loaded model: a fitted estimator with the schema it takes and the profile it is
watched against. Built only from an artifact that ``load_artifact`` verified completely.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from modelops.drift.profile import Profile
from modelops.serving import direct as direct_predictors
from modelops.serving.protocol import datatype_of

if TYPE_CHECKING:
    from modelops.artifact import LoadedArtifact

FeatureKind = Literal["numeric", "categorical"]
# Rows up to which a direct linear predictor's call (a matrix product: ~6 µs for one row,
# little more for 32) costs less on the event loop's thread than handing it to the
# predicting thread and back (see ``batching``).
INLINE_LINEAR_ROWS = 32
Task = Literal["classification", "regression"]


class ModelError(ValueError):
    """An estimator that does not fit its artifact's schema; the message says how."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind


def _allows_nan(estimator: Any) -> bool:
    """Whether the estimator takes NaN (e.g. HistGradientBoosting), from scikit-learn's tags."""
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # a non-scikit-learn estimator without tags: be strict
        return False


class ServedModel:
    """One model version being served: ``predict`` / ``predict_proba`` on rows ordered as
    ``features`` (float64 when all features are numeric, object otherwise).

    The rows reaching here are already checked by the codec (names, shapes, types, NaN and
    infinity), which is what makes it safe for the predicting thread to switch off
    scikit-learn's own finiteness checks (``assume_finite``).
    """

    def __init__(
        self,
        estimator: Any,
        *,
        name: str,
        version: str,
        features: tuple[Feature, ...],
        profile: Profile,
        task: Task,
        classes: tuple[Any, ...] | None = None,
        sha256: str = "",
        direct: bool = True,
    ) -> None:
        if tuple(f.name for f in features) != profile.feature_names:
            raise ModelError(
                f"the metadata lists features {[f.name for f in features]} but the profile "
                f"{list(profile.feature_names)}: they must be the same, in the same order"
            )
        self.estimator = estimator
        self.name = name
        self.version = version
        self.features = features
        self.feature_names = tuple(f.name for f in features)
        self.feature_index = {f.name: i for i, f in enumerate(features)}
        self.all_numeric = all(f.kind == "numeric" for f in features)
        self.profile = profile
        self.task = task
        self.sha256 = sha256
        self.allow_nan = _allows_nan(estimator)
        model_classes = getattr(estimator, "classes_", None)
        if classes is None and model_classes is not None:
            classes = tuple(np.asarray(model_classes).tolist())
        self.classes = classes
        self.supports_proba = task == "classification" and hasattr(estimator, "predict_proba")
        # An estimator fitted on a DataFrame checks column names (and a ColumnTransformer
        # selects by them), so it is given one; otherwise a plain array, which is cheaper.
        names_in = getattr(estimator, "feature_names_in_", None)
        self._columns: list[str] | None = None
        if names_in is not None:
            columns = [str(c) for c in names_in]
            if sorted(columns) != sorted(self.feature_names):
                raise ModelError(
                    f"the estimator was fitted on columns {columns}, the metadata lists "
                    f"{list(self.feature_names)}"
                )
            self._columns = columns
        # A direct predictor (linear models, tree ensembles), used only once proven equal to
        # scikit-learn (see modelops.serving.direct); models fitted on DataFrames keep
        # scikit-learn, which checks their column names.
        self.direct: direct_predictors.DirectPredictor | None = None
        self.predictor_description = "scikit-learn predict"
        if direct and self.all_numeric and self._columns is None:
            self.direct = direct_predictors.choose(estimator, profile, self.supports_proba).predictor
        if self.direct is not None:
            self.predictor_description = self.direct.description
        # A lone request of up to this many rows is predicted on the caller's thread; tree
        # ensembles and scikit-learn take tens of microseconds to milliseconds a call, which
        # must not hold up the event loop, so they always go to the predicting thread.
        self.inline_rows = INLINE_LINEAR_ROWS if self.direct is not None and self.direct.kind == "linear" else 0
        self.output_datatype = datatype_of(
            np.asarray(classes) if classes is not None else np.zeros(0, dtype=np.float64)
        )

    def model_input(self, rows: npt.NDArray[Any]) -> Any:
        if self._columns is None:
            return rows
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(self.feature_names))
        if self.all_numeric:
            frame = frame.astype(np.float64)
        else:  # rows of a mixed model are objects: give numeric columns their float dtype back
            frame = frame.astype({f.name: np.float64 for f in self.features if f.kind == "numeric"})
        return frame[self._columns]

    def predict(self, rows: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if self.direct is not None:
            return self.direct.predict(rows)
        return np.asarray(self.estimator.predict(self.model_input(rows)))

    def predict_proba(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        if not self.supports_proba:
            raise ModelError(f"model {self.name!r} ({self.task}) has no predict_proba")
        if self.direct is not None:
            return self.direct.predict_proba(rows)
        return np.asarray(self.estimator.predict_proba(self.model_input(rows)), dtype=np.float64)

    @classmethod
    def from_artifact(
        cls,
        loaded: LoadedArtifact,
        directory: Path,
        *,
        name: str | None = None,
        version: str | None = None,
        direct: bool = True,
    ) -> ServedModel:
        """The served form of a verified artifact; ``name`` defaults to the artifact
        directory's name and ``version`` to the first 12 digits of its sha256; ``direct``:
        look for a direct predictor (else scikit-learn's ``predict`` always)."""
        meta = loaded.metadata
        features = tuple(Feature(f.name, f.type) for f in meta.features)
        return cls(
            loaded.model,
            name=name or directory.resolve().name,
            version=version or loaded.sha256[:12],
            features=features,
            profile=loaded.profile,
            task=meta.task,
            classes=tuple(meta.classes) if meta.classes is not None else None,
            sha256=loaded.sha256,
            direct=direct,
        )


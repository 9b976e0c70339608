"""What a DriftPolicy asks for, and which method and threshold that gives each feature.

``method: auto`` (the default) scores numeric features with the binned KS statistic and
categorical ones with the Jensen-Shannon distance: both lie in [0, 1] with 0 for "same
distribution", so one policy ``threshold`` means the same for both, and both have
sample-size-aware default thresholds (see ``thresholds``). A policy-level ``ks`` or
``wasserstein`` needs ordered bins, so it applies to the numeric features and leaves the
categorical ones on ``auto``; a per-feature override naming a method that cannot score
that feature is an error.

The policy ``threshold`` applies to every feature scored with the policy's method (with
``auto``: every feature not overridden); a feature's own ``threshold`` wins; any feature
without one gets its method's default threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from modelops.drift.layout import ReferenceLayout
from modelops.drift.segments import Floats
from modelops.drift.thresholds import DEFAULT_ALPHA, ScoreMethod

Method = Literal["auto", "psi", "jensenshannon", "wasserstein", "ks", "chisquare"]
METHODS: tuple[Method, ...] = get_args(Method)
SCORE_METHODS: tuple[ScoreMethod, ...] = get_args(ScoreMethod)
ORDERED_METHODS: frozenset[ScoreMethod] = frozenset({"ks", "wasserstein"})
AUTO_NUMERIC: ScoreMethod = "ks"
AUTO_CATEGORICAL: ScoreMethod = "jensenshannon"

DEFAULT_MIN_SAMPLES = 100
DEFAULT_CONSECUTIVE = 2
# 0 = a single drifted feature makes the dataset drift; the Bonferroni-corrected default
# thresholds keep that rule's false alarms at ``alpha`` per evaluation.
DEFAULT_DRIFTED_FEATURE_SHARE = 0.0


class SettingsError(ValueError):
    """Drift settings that cannot be applied; the message names the offending field."""


@dataclass(frozen=True)
class FeatureSetting:
    name: str
    method: Method | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftSettings:
    method: Method = "auto"
    threshold: float | None = None
    features: tuple[FeatureSetting, ...] = ()
    drifted_feature_share: float = DEFAULT_DRIFTED_FEATURE_SHARE  # percent, 0-100
    consecutive: int = DEFAULT_CONSECUTIVE
    min_samples: int = DEFAULT_MIN_SAMPLES
    alpha: float = DEFAULT_ALPHA  # false alarms per evaluation of default thresholds

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        if self.method not in METHODS:
            raise SettingsError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        _check_threshold("threshold", self.threshold)
        seen: set[str] = set()
        for f in self.features:
            if f.name in seen:
                raise SettingsError(f"features: {f.name!r} is listed twice")
            seen.add(f.name)
            if f.method is not None and f.method not in METHODS:
                raise SettingsError(f"features[{f.name}].method {f.method!r} is not one of {', '.join(METHODS)}")
            _check_threshold(f"features[{f.name}].threshold", f.threshold)
        if not 0 <= self.drifted_feature_share <= 100:
            raise SettingsError(f"driftedFeatureShare must be 0-100, got {self.drifted_feature_share}")
        if self.consecutive < 1:
            raise SettingsError(f"consecutive must be at least 1, got {self.consecutive}")
        if self.min_samples < 1:
            raise SettingsError(f"minSamples must be at least 1, got {self.min_samples}")
        if not 0 < self.alpha < 1:
            raise SettingsError(f"alpha must be between 0 and 1, got {self.alpha}")

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> DriftSettings:
        """From a DriftPolicy ``spec`` (camelCase keys; unrelated keys are ignored)."""
        kwargs: dict[str, Any] = {}
        for key, attr in (
            ("method", "method"),
            ("threshold", "threshold"),
            ("driftedFeatureShare", "drifted_feature_share"),
            ("consecutive", "consecutive"),
            ("minSamples", "min_samples"),
            ("alpha", "alpha"),
        ):
            if spec.get(key) is not None:
                kwargs[attr] = spec[key]
        kwargs["features"] = tuple(
            FeatureSetting(name=str(f["name"]), method=f.get("method"), threshold=f.get("threshold"))
            for f in spec.get("features") or ()
        )
        return cls(**kwargs)


def _check_threshold(where: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise SettingsError(f"{where} must be a finite number >= 0, got {value}")


@dataclass(frozen=True, eq=False)
class Plan:
    """Per feature: the method (index into ``SCORE_METHODS``) and the configured
    threshold (NaN where the method's default applies)."""

    methods: npt.NDArray[np.int8]
    thresholds: Floats


def _code(method: ScoreMethod) -> int:
    return SCORE_METHODS.index(method)


@lru_cache(maxsize=64)
def plan(layout: ReferenceLayout, settings: DriftSettings) -> Plan:
    """Resolve ``settings`` against a layout's features (cached: both are immutable)."""
    numeric = layout.numeric
    methods = np.where(numeric, _code(AUTO_NUMERIC), _code(AUTO_CATEGORICAL)).astype(np.int8)
    from_policy = np.ones(numeric.shape, dtype=bool)
    if settings.method != "auto":
        policy = _code(settings.method)
        fits = numeric | (settings.method not in ORDERED_METHODS)
        methods[fits] = policy
        from_policy = fits
    thresholds = np.full(numeric.shape, np.nan)
    index = layout.index
    overrides = []
    for f in settings.features:
        i = index.get(f.name)
        if i is None:
            raise SettingsError(f"features: {f.name!r} is not a feature of the model ({len(index)} features)")
        if f.method is not None:
            auto = AUTO_NUMERIC if numeric[i] else AUTO_CATEGORICAL
            chosen: ScoreMethod = auto if f.method == "auto" else f.method
            if chosen in ORDERED_METHODS and not numeric[i]:
                raise SettingsError(
                    f"features[{f.name}].method {chosen} needs ordered bins, but {f.name!r} is categorical "
                    "(use chisquare, jensenshannon or psi)"
                )
            methods[i] = _code(chosen)
            from_policy[i] = f.method == settings.method
        overrides.append((i, f.threshold))
    if settings.threshold is not None:
        thresholds[from_policy] = settings.threshold
    for i, threshold in overrides:
        if threshold is not None:
            thresholds[i] = threshold
    methods.setflags(write=False)
    thresholds.setflags(write=False)
    return Plan(methods=methods, thresholds=thresholds)

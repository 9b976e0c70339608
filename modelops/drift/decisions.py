"""Verdicts as pure functions of scores, thresholds and sample sizes."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from modelops.drift.segments import Floats

Verdict = Literal["Clean", "Drifted", "Insufficient"]


def features_drifted(
    scores: Floats, thresholds: Floats, lower_is_drift: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Per feature: a distance drifts when it is strictly above its threshold, a p-value
    when strictly below (so a threshold of 0 on a p-value never fires)."""
    above = scores > thresholds
    below = scores < thresholds
    out: npt.NDArray[np.bool_] = np.where(lower_is_drift, below, above)
    return out


def required_features(n_features: int, share_percent: float) -> int:
    """How many drifted features make the dataset drift: ``share_percent`` of them,
    rounded up, and at least one."""
    return max(1, math.ceil(n_features * share_percent / 100.0 - 1e-9))


def dataset_verdict(
    samples: int, min_samples: int, drifted: int, n_features: int, share_percent: float
) -> Verdict:
    """``Insufficient`` below ``min_samples`` current rows, whatever the scores say;
    otherwise ``Drifted`` when at least ``required_features`` features drift."""
    if samples < min_samples:
        return "Insufficient"
    if n_features and drifted >= required_features(n_features, share_percent):
        return "Drifted"
    return "Clean"

"""The sandbox canary test's models: small classifiers of an easy synthetic problem, packaged.

The label is the sign of ``x0 + x1 - x2``, with rows closer than ``MARGIN`` to the boundary
left out, so any logistic regression fitted to true labels answers every row right: two such
versions are equally good (their accuracy drop is 0, not noise), and one fitted to shuffled
labels is right about half the time. The artifacts are built by ``build_artifact``, the
function behind ``modelops package``; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from modelops.artifact.build import build_artifact

FEATURES = ("x0", "x1", "x2")
_DIRECTION = np.array([1.0, 1.0, -1.0])
MARGIN = 0.6  # no row this close to the boundary: true-label models cannot disagree on any


def sample(n: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """``n`` rows (``n`` x 3) and their labels (0/1), drawn from the population the traffic uses."""
    kept: list[npt.NDArray[np.float64]] = []
    while sum(len(k) for k in kept) < n:
        x = rng.normal(size=(2 * n, len(FEATURES))).round(4)
        kept.append(x[np.abs(x @ _DIRECTION) > MARGIN])
    rows = np.concatenate(kept)[:n]
    return rows, (rows @ _DIRECTION > 0).astype(np.int64)


@dataclass(frozen=True)
class Packaged:
    name: str
    uri: str
    sha256: str
    holdout_accuracy: float


def package(name: str, directory: Path, *, seed: int, shuffle_labels: bool = False) -> Packaged:
    """Train a LogisticRegression on fresh rows (its labels shuffled when asked) and build its
    artifact under ``directory/name``, profiled and scored on a holdout with the true labels."""
    rng = np.random.default_rng(seed)
    x, y = sample(600, rng)
    holdout_x, holdout_y = sample(300, rng)
    fitted_on = rng.permutation(y) if shuffle_labels else y
    model: Any = LogisticRegression().fit(x, fitted_on)
    out = directory / name
    sha = build_artifact(model, holdout_x, FEATURES, holdout_y, out, target_name="label")
    return Packaged(name, out.resolve().as_uri(), sha, float(model.score(holdout_x, holdout_y)))

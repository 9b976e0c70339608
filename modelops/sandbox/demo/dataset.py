"""The demo's data: a synthetic churn table whose `tenure` distribution the demo later shifts.

Customers churn early (tenure under a year) and again when a long contract ends (tenure over
six years), more so with high monthly charges. The reference population has tenure 0-60 months,
so v1 only ever sees the first effect; the shifted population (40-100 months) brings the second,
which a model retrained on it learns (the gate passes on it) and v1 cannot. `segment` is a binary
sensitive feature independent of churn, so a fair model passes the fairness limit.
Nothing is downloaded: the rows come from a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FEATURES = ("tenure", "charges", "segment")
TARGET = "churned"
SENSITIVE = "segment"
SHIFTED_FEATURE = "tenure"


@dataclass(frozen=True)
class Population:
    """Where `tenure` is drawn from (months)."""

    tenure_low: float
    tenure_high: float


REFERENCE = Population(0.0, 60.0)
SHIFTED = Population(40.0, 100.0)


def sample(population: Population, n: int, rng: np.random.Generator) -> dict[str, npt.NDArray[Any]]:
    """``n`` labelled customers of ``population``, column by column (numpy: the clients' hot path)."""
    tenure = rng.uniform(population.tenure_low, population.tenure_high, n).round(1)
    charges = rng.uniform(20.0, 120.0, n).round(2)
    segment = rng.integers(0, 2, n)
    return {"tenure": tenure, "charges": charges, "segment": segment, TARGET: labels(tenure, charges, rng)}


def rows(population: Population, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` labelled customers of ``population`` as a table."""
    return pd.DataFrame(sample(population, n, rng))


def labels(tenure: npt.NDArray[np.float64], charges: npt.NDArray[np.float64],
           rng: np.random.Generator) -> npt.NDArray[np.int64]:
    risk = np.where((tenure < 12) | (tenure > 72), 2.0, -2.0) + (charges - 70.0) / 25.0
    return (rng.random(len(tenure)) < 1.0 / (1.0 + np.exp(-risk))).astype(np.int64)


@dataclass(frozen=True)
class DemoData:
    """The files the demo writes: v1's training set, its validation holdout, and the retraining set."""

    train: Path
    holdout: Path
    retrain: Path


def write(directory: Path, seed: int = 7) -> DemoData:
    """v1 learns from reference rows; the retraining set is what a data pipeline would have
    collected by the time drift is noticed: older reference rows and newly labelled shifted ones."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    out = DemoData(directory / "churn-train.csv", directory / "churn-holdout.csv", directory / "churn-latest.csv")
    rows(REFERENCE, 3000, rng).to_csv(out.train, index=False)
    rows(REFERENCE, 800, rng).to_csv(out.holdout, index=False)
    pd.concat([rows(REFERENCE, 1000, rng), rows(SHIFTED, 1500, rng)]).to_csv(out.retrain, index=False)
    return out

"""The benchmark models, fitted once with fixed seeds, and the request bodies sent to every server.

LogisticRegression, RandomForest with 100 and 500 trees, HistGradientBoosting with 200 iterations (no
early stopping, so all 200 are there), all on load_breast_cancer.

Each model is fitted once and written once as `model.joblib`; the bare app and MLServer load that
file, and `modelops package` packages that same fitted model for `modelops serve`. The models are
fitted on plain arrays (no feature names), so that `predict` on an array raises no warning per request
in any server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

SEED = 0
TARGET = "target"
N_BODIES = 64


@dataclass(frozen=True)
class FittedModel:
    key: str  # "lr", "rf" (100 trees), "rf500" or "hgb": also the model's name on every server
    description: str
    joblib_path: Path
    reference_csv: Path
    bodies_file: Path  # one OIP v2 JSON body per line, one row each
    expected: list[int]  # in-process predictions for the rows of bodies_file, in order
    n_features: int
    test_accuracy: float


def _estimators() -> dict[str, tuple[str, ClassifierMixin]]:
    return {
        "lr": ("LogisticRegression(max_iter=10000)", LogisticRegression(max_iter=10_000, random_state=SEED)),
        "rf": (
            "RandomForestClassifier(n_estimators=100)",
            RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1),
        ),
        "rf500": (
            "RandomForestClassifier(n_estimators=500)",
            RandomForestClassifier(n_estimators=500, random_state=SEED, n_jobs=1),
        ),
        "hgb": (
            "HistGradientBoostingClassifier(max_iter=200, early_stopping=False)",
            HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=SEED),
        ),
    }


def oip_body(row: np.ndarray, request_id: str) -> str:
    return json.dumps(
        {
            "id": request_id,
            "inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row.tolist()}],
        },
        separators=(",", ":"),
    )


def fit_models(work: Path, keys: list[str] | None = None) -> list[FittedModel]:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=SEED, stratify=data.target
    )
    feature_names = [name.replace(" ", "_") for name in data.feature_names]
    reference_csv = work / "reference.csv"
    np.savetxt(
        reference_csv,
        np.column_stack([x_train, y_train]),
        delimiter=",",
        header=",".join([*feature_names, TARGET]),
        comments="",
        fmt=["%.17g"] * len(feature_names) + ["%d"],
    )

    rows = x_test[:N_BODIES]
    np.save(work / "rows.npy", rows)  # the same rows, for the in-process measurement
    bodies_file = work / "bodies.jsonl"
    bodies_file.write_text("".join(oip_body(row, f"bench-{i}") + "\n" for i, row in enumerate(rows)))

    fitted = []
    for key, (description, estimator) in _estimators().items():
        if keys is not None and key not in keys:
            continue
        estimator.fit(x_train, y_train)
        model_dir = work / key
        model_dir.mkdir(parents=True, exist_ok=True)
        joblib_path = model_dir / "model.joblib"
        joblib.dump(estimator, joblib_path)
        fitted.append(
            FittedModel(
                key=key,
                description=description,
                joblib_path=joblib_path,
                reference_csv=reference_csv,
                bodies_file=bodies_file,
                expected=[int(p) for p in estimator.predict(rows)],
                n_features=x_train.shape[1],
                test_accuracy=float(estimator.score(x_test, y_test)),
            )
        )
    return fitted

"""The command line of a retraining Job's trainer container, built from what the operator
knows: the DriftPolicy's ``retrain.trainer`` and ``gate``, the Job it decided to create
(name, drift evaluation, createdAt) and the stable version (the champion and parent).

Kept beside the CLI it feeds, so the flags the operator writes and the flags ``modelops
train`` reads cannot drift apart (tests parse these args with the real parser).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainerInvocation:
    dataset_uri: str
    target: str
    estimator: str
    output_uri: str
    name: str  # the Job's version name: <output-uri>/<name>/ and the ModelVersion
    params: Mapping[str, Any] = field(default_factory=dict)
    gate_metric: str | None = None
    min_improvement: float = 0.0
    champion_uri: str | None = None
    champion_sha256: str | None = None
    champion_trusted: bool = False
    allow_version_skew: bool = False
    parent: str | None = None
    job: str | None = None
    drift_policy: str | None = None
    drift_evaluation: str | None = None
    created_at: str | None = None


def trainer_args(call: TrainerInvocation) -> list[str]:
    """``["train", "--dataset-uri", …]``: the container's args after the ``modelops`` command."""
    args = [
        "train",
        "--dataset-uri", call.dataset_uri,
        "--target", call.target,
        "--estimator", call.estimator,
        "--params", json.dumps(dict(call.params), sort_keys=True, separators=(",", ":")),
        "--output-uri", call.output_uri,
        "--name", call.name,
        "--min-improvement", repr(float(call.min_improvement)),
    ]
    optional = (
        ("--gate-metric", call.gate_metric),
        ("--champion-uri", call.champion_uri),
        ("--champion-sha256", call.champion_sha256),
        ("--parent", call.parent),
        ("--job", call.job),
        ("--drift-policy", call.drift_policy),
        ("--drift-evaluation", call.drift_evaluation),
        ("--created-at", call.created_at),
    )
    for flag, value in optional:
        if value is not None:
            args += [flag, value]
    if call.champion_trusted:
        args.append("--champion-trusted")
    if call.allow_version_skew:
        args.append("--allow-version-skew")
    return args

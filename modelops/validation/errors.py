"""Why a validation could not judge a model: the ``ValidationError`` outcome.

A model that misses a limit is not an error (that is ``ValidationFailed``, a verdict);
this is for a run that cannot reach a verdict at all: the holdout cannot be read, lacks
the target or the sensitive feature, is too small to judge, or the spec asks for something
the model cannot give. ``reason`` is CamelCase (it becomes the detail of the Validated
condition); ``retryable`` says whether running again may help (a network hiccup), which
decides the process's exit code (see ``modelops.validation.cli``).
"""

from __future__ import annotations

from typing import Literal

Problem = Literal[
    "InvalidSpec",  # the spec does not parse, or asks for a figure this model has not
    "HoldoutUnreadable",  # the holdout cannot be fetched or parsed (names the uri)
    "TargetMissing",  # the holdout has no column named as the model's target
    "FeatureMissing",  # the holdout lacks model input columns
    "SensitiveFeatureMissing",  # the holdout has no column named as fairness.sensitiveFeature
    "HoldoutTooSmall",  # fewer rows per group than minGroupRows, or a group lacking an outcome
    "MetricUndefined",  # a figure the data leaves undefined (from modelops.evaluation)
    "ArtifactUnusable",  # the artifact (or the champion's) cannot be fetched, verified or loaded
]


class CannotValidateError(Exception):
    def __init__(self, problem: Problem, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{problem}: {message}")
        self.problem: Problem = problem
        self.message = message
        self.retryable = retryable

"""Fairness figures over the groups of a sensitive feature, computed by fairlearn.

- ``demographic_parity_difference``: the largest minus the smallest group selection rate
  (share of rows predicted as the positive class), fairlearn's
  ``demographic_parity_difference``.
- ``equalized_odds_difference``: the larger of the true-positive-rate and the
  false-positive-rate differences between groups, fairlearn's ``equalized_odds_difference``.
- a group metric (``minGroupMetric``): each group's value of a ``modelops.evaluation``
  metric through fairlearn's ``MetricFrame``, so every group, and so the worst one, must
  meet the limit.

Nothing here re-implements a disparity: the binary labels handed to fairlearn are "is the
positive class" (``positiveClass``, by default a binary classifier's second class, as the
evaluation module counts precision and recall). A group with fewer than ``minGroupRows``
rows, or, for equalized odds, without a row of either outcome, cannot be judged: that is
HoldoutTooSmall with every group's counts, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.api.modelversion import Fairness
from modelops.artifact.metadata import ClassLabel
from modelops.drift.categories import category_key
from modelops.evaluation import EvaluationError, Predictions, metric_function
from modelops.validation.errors import CannotValidateError
from modelops.validation.figures import Figure, finite, limited
from modelops.validation.thresholds import as_cannot_validate, metric_key

DEMOGRAPHIC_PARITY = "demographic_parity_difference"
EQUALIZED_ODDS = "equalized_odds_difference"


def group_counts(groups: npt.NDArray[np.str_]) -> dict[str, int]:
    values, counts = np.unique(groups, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def fairness_figures(spec: Fairness, predictions: Predictions, groups: npt.NDArray[np.str_]) -> list[Figure]:
    """Every fairness figure the spec asks for, on ``groups`` (one per holdout row)."""
    if len(groups) != predictions.rows:
        raise ValueError(f"{len(groups)} group values for {predictions.rows} holdout rows")
    feature = spec.sensitive_feature
    counts = group_counts(groups)
    small = {g: n for g, n in counts.items() if n < spec.min_group_rows}
    if small:
        raise CannotValidateError(
            "HoldoutTooSmall",
            f"groups of {feature!r} with fewer than minGroupRows={spec.min_group_rows} holdout rows: "
            f"{_counts(small)} (all groups: {_counts(counts)})",
        )
    out: list[Figure] = []
    wants_parity = spec.max_demographic_parity_difference is not None or spec.max_equalized_odds_difference is not None
    if wants_parity:
        out.extend(_parity_figures(spec, predictions, groups, counts))
    if spec.min_group_metric is not None:
        out.extend(_group_metric_figures(spec, predictions, groups, counts))
    return out


def _parity_figures(
    spec: Fairness, predictions: Predictions, groups: npt.NDArray[np.str_], counts: Mapping[str, int]
) -> list[Figure]:
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    positive = positive_class(spec, predictions)
    y_true = (predictions.y_true == positive).astype(np.int64)
    y_pred = (predictions.y_pred == positive).astype(np.int64)
    feature = spec.sensitive_feature
    out: list[Figure] = []
    if spec.max_demographic_parity_difference is not None:
        value = demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
        rates = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
        out.append(Figure(
            DEMOGRAPHIC_PARITY, finite(value, f"{DEMOGRAPHIC_PARITY} over {feature!r}"),
            spec.max_demographic_parity_difference, "max", feature,
            detail={"positiveClass": positive, "selectionRate": _by_group(rates.by_group), "rows": dict(counts)},
        ))
    if spec.max_equalized_odds_difference is not None:
        _check_outcomes(feature, y_true, groups, positive)
        value = equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
        frame = MetricFrame(
            metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
            y_true=y_true, y_pred=y_pred, sensitive_features=groups,
        )
        out.append(Figure(
            EQUALIZED_ODDS, finite(value, f"{EQUALIZED_ODDS} over {feature!r}"),
            spec.max_equalized_odds_difference, "max", feature,
            detail={
                "positiveClass": positive,
                "truePositiveRate": _by_group(frame.by_group["tpr"]),
                "falsePositiveRate": _by_group(frame.by_group["fpr"]),
                "rows": dict(counts),
            },
        ))
    return out


def positive_class(spec: Fairness, predictions: Predictions) -> ClassLabel:
    if predictions.task != "classification":
        raise CannotValidateError(
            "InvalidSpec", "demographic parity and equalized odds are classifier figures; the model is a "
            "regressor (limit a group metric such as mae with minGroupMetric instead)"
        )
    classes = predictions.classes
    if spec.positive_class is not None:
        key = category_key(spec.positive_class)
        for c in classes:
            if category_key(c) == key:
                return c
        raise CannotValidateError(
            "InvalidSpec", f"fairness.positiveClass {spec.positive_class!r} is not one of the model's classes "
            f"{list(classes)}"
        )
    if len(classes) != 2:
        raise CannotValidateError(
            "InvalidSpec", f"the model has {len(classes)} classes {list(classes)}: name the one the parity "
            "figures count as positive in fairness.positiveClass"
        )
    return classes[1]


def _check_outcomes(
    feature: str, y_true: npt.NDArray[np.int64], groups: npt.NDArray[np.str_], positive: ClassLabel
) -> None:
    """Equalized odds compares true- and false-positive rates: a group without a positive or
    without a negative row has one of them undefined (fairlearn would count it as 0)."""
    lacking = {}
    for g in sorted(set(groups.tolist())):
        in_group = y_true[groups == g]
        positives = int(in_group.sum())
        if positives == 0 or positives == len(in_group):
            lacking[g] = f"{positives} of {len(in_group)} rows labelled {positive!r}"
    if lacking:
        detail = ", ".join(f"{g}: {v}" for g, v in lacking.items())
        raise CannotValidateError(
            "HoldoutTooSmall",
            f"equalized odds over {feature!r} needs rows of both outcomes in every group; {detail}",
        )


def _group_metric_figures(
    spec: Fairness, predictions: Predictions, groups: npt.NDArray[np.str_], counts: Mapping[str, int]
) -> list[Figure]:
    from fairlearn.metrics import MetricFrame

    requirement = spec.min_group_metric
    assert requirement is not None
    feature = spec.sensitive_feature
    where = f"fairness.minGroupMetric per group of {feature!r}"
    try:
        key = metric_key(requirement.name, requirement.class_)
        fn, needs = metric_function(requirement.name, predictions.task, predictions.classes, requirement.class_)
    except EvaluationError as exc:
        raise as_cannot_validate(exc, where) from None
    y_input: Any = predictions.y_pred
    if needs == "probabilities":
        if predictions.probabilities is None:
            raise CannotValidateError("InvalidSpec", f"{where}: {key} needs class probabilities; "
                                 f"{predictions.model} has no predict_proba")
        y_input = predictions.probabilities
    try:
        frame = MetricFrame(metrics=fn, y_true=predictions.y_true, y_pred=y_input, sensitive_features=groups)
    except EvaluationError as exc:
        raise as_cannot_validate(exc, f"{where} ({_undefined_in(fn, predictions.y_true, y_input, groups)})") from None
    out: list[Figure] = []
    for group, value in _by_group(frame.by_group).items():
        out.extend(limited(
            key, finite(value, f"{key} of {feature}={group}"), min=requirement.min, max=requirement.max,
            group=f"{feature}={group}", detail={"rows": counts[group]},
        ))
    return out


def _undefined_in(fn: Any, y_true: Any, y_input: Any, groups: npt.NDArray[np.str_]) -> str:
    """Which groups the figure is undefined in, for the message only (the figures are
    fairlearn's; this just names where its MetricFrame stopped)."""
    bad = []
    for g in sorted(set(groups.tolist())):
        rows = groups == g
        try:
            fn(y_true[rows], y_input[rows])
        except EvaluationError:
            bad.append(g)
    return f"undefined in group {', '.join(bad)}" if bad else "undefined in some group"


def _by_group(series: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in series.items()}


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{g}={n}" for g, n in sorted(counts.items()))

"""Metric thresholds and the champion comparison: figures from ``modelops.evaluation``,
the one implementation of every metric that the retraining gate uses too."""

from __future__ import annotations

from collections.abc import Sequence

from modelops.api.modelversion import ChampionComparison, MetricRequirement
from modelops.evaluation import EvaluationError, MetricResult, Predictions, metric_spec, score
from modelops.validation.errors import CannotValidateError, Problem
from modelops.validation.figures import Figure, finite, limited

# Evaluation reasons that mean the spec asks for a figure this model cannot have.
_SPEC_REASONS = frozenset({"UnknownMetric", "WrongTask", "NotPerClass", "UnknownClass", "NoProbabilities"})
# Those that mean the holdout has too few (kinds of) rows for the figure.
_SMALL_REASONS = frozenset({"EmptyHoldout", "SingleClassHoldout", "ClassAbsent"})


def as_cannot_validate(exc: EvaluationError, where: str) -> CannotValidateError:
    """An evaluation error as the validation problem it means, the evaluation's reason kept."""
    problem: Problem = (
        "InvalidSpec" if exc.reason in _SPEC_REASONS
        else "HoldoutTooSmall" if exc.reason in _SMALL_REASONS
        else "MetricUndefined"
    )
    return CannotValidateError(problem, f"{where}: {exc.reason}: {exc.message}")


def metric_key(name: str, class_label: str | None) -> str:
    """``recall`` or ``recall[1]``, as ``MetricResult.key`` spells it."""
    return MetricResult(metric_spec(name).name, 0.0, True, class_label).key


def _score(predictions: Predictions, name: str, class_label: str | None, where: str) -> float:
    try:
        value = score(predictions, name, class_label)
    except EvaluationError as exc:
        raise as_cannot_validate(exc, where) from None
    return finite(value, f"{metric_key(name, class_label)} of {where}")


def metric_figures(requirements: Sequence[MetricRequirement], predictions: Predictions) -> list[Figure]:
    out: list[Figure] = []
    for r in requirements:
        try:
            key = metric_key(r.name, r.class_)
        except EvaluationError as exc:
            raise as_cannot_validate(exc, "spec.validation.metrics") from None
        value = _score(predictions, r.name, r.class_, "the model")
        out.extend(limited(key, value, min=r.min, max=r.max))
    return out


def champion_figure(comparison: ChampionComparison, challenger: Predictions, champion: Predictions) -> Figure:
    """The challenger's loss against the champion on ``comparison.metric``, in the metric's
    direction (a fall of roc_auc, a rise of rmse), at most ``maxDrop``."""
    try:
        spec = metric_spec(comparison.metric)
    except EvaluationError as exc:
        raise as_cannot_validate(exc, "spec.validation.championComparison") from None
    if champion.task != challenger.task:
        raise CannotValidateError(
            "InvalidSpec", f"the champion does {champion.task} and the model {challenger.task}: not comparable"
        )
    new = _score(challenger, spec.name, None, "the model")
    old = _score(champion, spec.name, None, "the champion")
    drop = (old - new) if spec.higher_is_better else (new - old)
    return Figure(
        f"{spec.name}_drop_vs_champion", drop, comparison.max_drop, "max",
        detail={"model": new, "champion": old, "higherIsBetter": spec.higher_is_better},
    )

"""A figure: one value checked against one limit, and which failing figure is the worst.

Every check of a validation (a metric threshold, the drop against the champion, a
disparity, a group's metric) yields figures ``{metric, group, value, limit, bound,
verdict}``; a requirement with both ``min`` and ``max`` yields two.

"Worst" failing figure: the one with the largest *relative violation*, how far past its
limit it is as a fraction of the limit, ``(limit - value) / |limit|`` for a minimum and
``(value - limit) / |limit|`` for a maximum. This compares figures of different scales (a
recall 0.05 under 0.80 is milder than a parity difference 0.05 over 0.10). A limit of 0
makes any violation infinitely large relative to it, so such a figure is worst; ties go
to the figure listed first (metrics, then the champion, then fairness).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelops.api.modelversion import ValidationResult
from modelops.validation.errors import CannotValidateError

Bound = Literal["min", "max"]


@dataclass(frozen=True)
class Figure:
    metric: str
    value: float
    limit: float
    bound: Bound
    group: str | None = None
    # What the report adds beyond the five fields (the champion's value, group sizes…).
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.bound == "min" else self.value <= self.limit

    @property
    def verdict(self) -> Literal["Pass", "Fail"]:
        return "Pass" if self.passed else "Fail"

    @property
    def relative_violation(self) -> float:
        """0 for a passing figure; see the module docstring."""
        over = (self.limit - self.value) if self.bound == "min" else (self.value - self.limit)
        if over <= 0:
            return 0.0
        return over / abs(self.limit) if self.limit != 0 else math.inf

    def describe(self) -> str:
        # "gender=F" is one group's figure; a bare feature name, a figure across its groups.
        where = "" if not self.group else f" of {self.group}" if "=" in self.group else f" across {self.group!r}"
        word = {("min", True): "at least", ("max", True): "at most",
                ("min", False): "below the minimum", ("max", False): "above the maximum"}
        return f"{self.metric}{where} is {self.value:.4g}, {word[self.bound, self.passed]} {self.limit:.4g}"

    def to_result(self) -> ValidationResult:
        """The figure as ``status.validation.results`` holds it."""
        return ValidationResult(
            metric=self.metric, group=self.group, value=self.value, limit=self.limit, bound=self.bound,
            verdict=self.verdict,
        )

    def to_report(self) -> dict[str, Any]:
        out = self.to_result().model_dump(mode="json", by_alias=True, exclude_none=True)
        violation = self.relative_violation
        if violation > 0:
            out["relativeViolation"] = violation if math.isfinite(violation) else "inf"
        out.update(self.detail)
        return out


def finite(value: float, what: str) -> float:
    """``value`` as a float, or MetricUndefined naming ``what`` when it is NaN or infinite."""
    out = float(value)
    if not math.isfinite(out):
        raise CannotValidateError("MetricUndefined", f"{what} is {out}: undefined on this holdout")
    return out


def limited(
    metric: str,
    value: float,
    *,
    min: float | None = None,
    max: float | None = None,
    group: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> list[Figure]:
    """One figure per limit given."""
    limits: tuple[tuple[Bound, float | None], ...] = (("min", min), ("max", max))
    return [
        Figure(metric, value, float(limit), bound, group, dict(detail or {}))
        for bound, limit in limits
        if limit is not None
    ]


def worst_failing(figures: Iterable[Figure]) -> Figure | None:
    worst: Figure | None = None
    for f in figures:
        if not f.passed and (worst is None or f.relative_violation > worst.relative_violation):
            worst = f
    return worst


def failing(figures: Sequence[Figure]) -> list[Figure]:
    """The failing figures, worst first (stable: equal violations keep their order)."""
    return sorted((f for f in figures if not f.passed), key=lambda f: -f.relative_violation)

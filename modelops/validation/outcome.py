"""The outcome of a validation: its reason, message and figures, as the termination
message (at most 4096 bytes, what Kubernetes keeps) and as the full report.

Termination message (compact JSON)::

    {"reason": "ValidationFailed", "message": "...", "retryable": false,
     "results": [{"metric", "group", "value", "limit", "bound", "verdict"}, ...],
     "omitted": {"Pass": 12}, "report": "s3://models/churn/v2.validation.json"}

``reason`` is ValidationPassed, ValidationFailed (the message names the worst failing
figure, see ``modelops.validation.figures``) or ValidationError (with ``problem``: why no
verdict could be reached). ``results`` are exactly ``status.validation.results``. When
they do not fit, passing figures go first (counted in ``omitted``), then the mildest
failing ones: the message always fits, and the worst failing figure is always kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from modelops.validation.errors import CannotValidateError, Problem
from modelops.validation.figures import Figure, failing, worst_failing

TERMINATION_LIMIT = 4096
MESSAGE_LIMIT = 1024
Reason = Literal["ValidationPassed", "ValidationFailed", "ValidationError"]


@dataclass(frozen=True)
class Outcome:
    reason: Reason
    message: str
    figures: tuple[Figure, ...] = ()
    problem: Problem | None = None
    retryable: bool = False
    # What was validated, on what (artifact and holdout digests, rows, groups, notes).
    facts: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def judged(figures: Sequence[Figure], facts: Mapping[str, Any] | None = None) -> Outcome:
        """Passed when every figure passes, else Failed naming the worst failing figure."""
        worst = worst_failing(figures)
        if worst is None:
            message = f"all {len(figures)} figures within their limits" if figures else "no figures were asked for"
            return Outcome("ValidationPassed", message, tuple(figures), facts=dict(facts or {}))
        n = sum(not f.passed for f in figures)
        message = f"{worst.describe()}" + (f" (worst of {n} failing figures)" if n > 1 else "")
        return Outcome("ValidationFailed", message, tuple(figures), facts=dict(facts or {}))

    @staticmethod
    def error(exc: CannotValidateError, facts: Mapping[str, Any] | None = None) -> Outcome:
        return Outcome(
            "ValidationError", f"{exc.problem}: {exc.message}", problem=exc.problem, retryable=exc.retryable,
            facts=dict(facts or {}),
        )

    def _head(self, report: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason}
        if self.problem is not None:
            out["problem"] = self.problem
        out["message"] = _clip(self.message, MESSAGE_LIMIT)
        out["retryable"] = self.retryable
        if report is not None:
            out["report"] = _clip(report, 512)
        return out

    def termination_message(self, report: str | None = None, limit: int = TERMINATION_LIMIT) -> bytes:
        """The compact result, at most ``limit`` bytes (see the module docstring)."""
        head = self._head(report)
        results = [f.to_result().model_dump(mode="json", by_alias=True, exclude_none=True) for f in self.figures]
        data = _encode({**head, "results": results})
        if len(data) <= limit:
            return data
        bad = failing(self.figures)
        omitted = {"Pass": len(self.figures) - len(bad)}
        kept = [f.to_result().model_dump(mode="json", by_alias=True, exclude_none=True) for f in bad]
        while True:
            omitted_now = {k: v for k, v in omitted.items() if v}
            data = _encode({**head, "results": kept, "omitted": omitted_now})
            if len(data) <= limit or not kept:
                break
            # Drop the mildest failing figure; halve the list when far over, to stay linear.
            over = len(data) - limit
            drop = max(1, min(len(kept) - 1 or 1, over // 120))
            kept = kept[:-drop]
            omitted["Fail"] = omitted.get("Fail", 0) + drop
        if len(data) > limit:  # an absurd limit: the head alone does not fit
            data = _encode({"reason": self.reason, "message": _clip(self.message, max(0, limit // 4))})
        return data

    def report(self, report: str | None = None) -> dict[str, Any]:
        """The full report (``validation.json``): every figure with its details."""
        return {
            **self._head(report),
            "message": self.message,
            "results": [f.to_report() for f in self.figures],
            "worstFailing": (w.to_report() if (w := worst_failing(self.figures)) else None),
            **dict(self.facts),
        }


def encode_report(report: Mapping[str, Any]) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _encode(obj: Mapping[str, Any]) -> bytes:
    return orjson.dumps(obj)


def _clip(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes (JSON escapes aside), cut with an ellipsis."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: max(0, limit - 3)].decode(errors="ignore") + "…"

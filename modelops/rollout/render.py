"""A ModelDeployment's rollout as text: steps with weights, analysis figures, conditions (pure).

Canary: its steps. Shadow: the shadow stage (mirror percent, who mirrors, samples against
``shadow.minSamples``, agreement, from ``status.analysis``) and, with ``then: Canary``, the canary
steps after it (``status.step`` ``k`` is canary step ``k - 1`` there). Under router GatewayAPI a
step's weight is exact (the HTTPRoute's backendRefs), shown as the route's split; under router
Replicas it is a share of pods, and ``status.weight`` (the summary) is the effective one.

``tables`` turns the object into titled rows; ``plain`` prints them as aligned columns (for
pipes and logs), ``rich_tables`` as rich Tables (for a terminal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

DONE_PHASES = frozenset({"Stable", "RolledBack", "Failed"})
DEFAULT_STEPS = ({"weight": 10, "pause": "5m"}, {"weight": 50, "pause": "10m"})
SHADOW_DEFAULT_MIN_SAMPLES = 1000  # the CRD's default of spec.strategy.shadow.minSamples


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    strategy = (spec.get("strategy") or {}).get("type", "Recreate")
    parts = [
        f"{meta.get('namespace')}/{meta.get('name')}",
        f"strategy {strategy}",
        f"phase {status.get('phase', '-')}",
        f"stable {status.get('stable') or '-'}",
        f"candidate {status.get('candidate') or '-'}",
        f"weight {_fmt(status.get('weight'))}%",
    ]
    if status.get("failedAnalyses"):
        parts.append(f"failed analyses {status['failedAnalyses']}")
    if spec.get("router") == "GatewayAPI":
        parts.append("router GatewayAPI (exact weights)")
    return "  ".join(parts)


def _gateway(spec: Mapping[str, Any]) -> bool:
    return spec.get("router") == "GatewayAPI"


def _steps(spec: Mapping[str, Any], status: Mapping[str, Any], current: int | None) -> Section:
    """The canary steps, ``current`` the one in flight (None: no rollout; past the last: promoting)."""
    steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or list(DEFAULT_STEPS)
    gateway = _gateway(spec)
    rows = []
    for i, step in enumerate(steps):
        if current is None:
            state = "-"
        elif i < current:
            state = "passed"
        elif i == current:
            verdict = status.get("stepVerdict") or "pending"
            state = f"current (analysis {verdict}, since {status.get('stepStartedAt')})"
        else:
            state = "pending"
        weight = int(step.get("weight") or 0)
        route = (f"stable {100 - weight} / candidate {weight}",) if gateway else ()
        rows.append((str(i + 1), f"{weight}%", *route, str(step.get("pause") or "-"), state))
    if current is not None and current >= len(steps):
        route = ("candidate 100",) if gateway else ()
        rows.append(("-", "100%", *route, "-", "promoting: scaling the candidate up"))
    header = ("STEP", "WEIGHT", "ROUTE", "PAUSE", "STATE") if gateway else ("STEP", "WEIGHT", "PAUSE", "STATE")
    return Section("Steps", header, tuple(rows))


def _result(status: Mapping[str, Any], metric: str) -> Mapping[str, Any] | None:
    return next((a for a in status.get("analysis") or [] if a.get("metric") == metric), None)


def _shadow(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Section:
    """The shadow stage: what is mirrored, by whom, and how far its analysis got."""
    strategy = spec.get("strategy") or {}
    shadow = strategy.get("shadow") or {}
    gateway = _gateway(spec)
    step = int(status.get("step") or 0) if status.get("candidate") else None
    minimum = int(shadow.get("minSamples") or SHADOW_DEFAULT_MIN_SAMPLES)
    # what shadow.minSamples counts: the rows the stable pods compared, or (a gateway mirrors
    # and nobody compares) the requests the candidate answered
    counted = _result(status, "errorRate" if gateway else "agreement") if step == 0 else None
    agreement = _result(status, "agreement") if step == 0 else None
    if agreement is None:
        agreed = "-"
    elif agreement.get("verdict") == "NotMeasured":
        agreed = "not measured (gateway mirror)"
    else:
        agreed = f"{_fmt(agreement.get('value'))} ({agreement.get('verdict')})"
    if step is None:
        state = "-"
    elif step == 0:
        state = f"current (analysis {status.get('stepVerdict') or 'pending'}, since {status.get('stepStartedAt')})"
    else:
        state = "passed"
    samples = f"{_fmt(counted.get('samples')) if counted else '-'} / {minimum}"
    row = ("shadow", f"{shadow.get('mirrorPercent', 100)}%",
           "HTTPRoute RequestMirror" if gateway else "stable pods", samples, agreed, state)
    rows: list[tuple[str, ...]] = [row]
    if shadow.get("then", "Canary") == "Promote":
        promoting = step is not None and step >= 1
        rows.append(("promote", "-", "-", "-", "-", "promoting: scaling the candidate up" if promoting else
                     ("-" if step is None else "pending")))
    header = ("STAGE", "MIRROR", "MIRRORED BY", "SAMPLES/MIN", "AGREEMENT", "STATE")
    return Section("Shadow", header, tuple(rows))


def tables(obj: Mapping[str, Any]) -> list[Section]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    strategy = spec.get("strategy") or {}
    out: list[Section] = []
    in_flight = bool(status.get("candidate"))
    if strategy.get("type") == "Canary":
        out.append(_steps(spec, status, int(status.get("step") or 0) if in_flight else None))
    elif strategy.get("type") == "Shadow":
        out.append(_shadow(spec, status))
        if (strategy.get("shadow") or {}).get("then", "Canary") == "Canary":
            step = int(status.get("step") or 0)
            # in the shadow stage every canary step is still ahead (-1: none current, all pending)
            out.append(_steps(spec, status, step - 1 if in_flight else None))
    analysis = status.get("analysis") or []
    if analysis:
        out.append(Section(
            "Analysis", ("METRIC", "VALUE", "THRESHOLD", "SAMPLES", "VERDICT", "TIME"),
            tuple((str(a.get("metric")), _fmt(a.get("value")), _fmt(a.get("threshold")), _fmt(a.get("samples")),
                   str(a.get("verdict")), str(a.get("time"))) for a in analysis),
        ))
    conditions = status.get("conditions") or []
    if conditions:
        out.append(Section(
            "Conditions", ("TYPE", "STATUS", "REASON", "MESSAGE"),
            tuple((str(c.get("type")), str(c.get("status")), str(c.get("reason")), str(c.get("message", "")))
                  for c in conditions if c.get("type") in ("Ready", "Progressing", "Degraded")),
        ))
    history = status.get("history") or []
    if history:
        out.append(Section(
            "History", ("VERSION", "RESULT", "AT", "REASON"),
            tuple((str(h.get("version")), str(h.get("result")), str(h.get("at")), str(h.get("reason", "")))
                  for h in history[-5:]),
        ))
    return out


def plain(obj: Mapping[str, Any]) -> str:
    lines = [summary(obj)]
    for section in tables(obj):
        lines.extend(["", f"{section.title}:"])
        lines.extend(_aligned(section.header, section.rows))
    return "\n".join(lines) + "\n"


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    def line(r: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
    return [line(header), *(line(r) for r in rows)]


def rich_tables(obj: Mapping[str, Any]) -> list[Table]:
    out = []
    for section in tables(obj):
        table = Table(title=section.title, title_justify="left")
        for column in section.header:
            table.add_column(column, overflow="fold")
        for row in section.rows:
            table.add_row(*row)
        out.append(table)
    return out

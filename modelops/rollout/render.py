"""A ModelDeployment's rollout as text: steps with weights, analysis figures, conditions (pure).

``tables`` turns the object into titled rows; ``plain`` prints them as aligned columns (for
pipes and logs), ``rich_tables`` as rich Tables (for a terminal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

DONE_PHASES = frozenset({"Stable", "RolledBack", "Failed"})


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
    return "  ".join(parts)


def tables(obj: Mapping[str, Any]) -> list[Section]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    strategy = spec.get("strategy") or {}
    out: list[Section] = []
    if strategy.get("type") == "Canary":
        steps = (strategy.get("canary") or {}).get("steps") or [{"weight": 10, "pause": "5m"},
                                                                {"weight": 50, "pause": "10m"}]
        current = status.get("step") if status.get("candidate") else None
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
            rows.append((str(i + 1), f"{step.get('weight')}%", str(step.get("pause") or "-"), state))
        if current is not None and current >= len(steps):
            rows.append(("-", "100%", "-", "promoting: scaling the candidate up"))
        out.append(Section("Steps", ("STEP", "WEIGHT", "PAUSE", "STATE"), tuple(rows)))
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

"""``modelops history`` output: a timeline table for people, JSON or YAML for tools."""

from __future__ import annotations

import json
from typing import Literal

import yaml

from modelops.history.chain import Decision, Figure, History, Lineage, Version

Output = Literal["table", "json", "yaml"]
UNKNOWN_TIME = "(unknown)"


def render(history: History, output: Output) -> str:
    if output == "json":
        return json.dumps(history.to_json(), indent=2) + "\n"
    if output == "yaml":
        return str(yaml.safe_dump(history.to_json(), sort_keys=False, allow_unicode=True))
    return table(history)


def table(history: History) -> str:
    """One line per link of the chain, oldest first, details indented below it."""
    rows: list[tuple[str, list[str]]] = []
    for v in history.versions:
        rows.append((v.created or "", _version_lines(v)))
        if v.validation is not None and v.validation.completed_at:
            rows.append((v.validation.completed_at, _validation_lines(v)))
    rows += [(d.time, _decision_lines(d)) for d in history.decisions]
    # Stable: within one second (the timestamps' resolution) a version, then its validation,
    # then the decisions, as they happen.
    rows.sort(key=lambda r: r[0])
    out = [f"model {history.model} in namespace {history.namespace}: {len(history.versions)} version(s), "
           f"{len(history.decisions)} rollout decision(s), oldest first", ""]
    for time, lines in rows:
        out.append(f"{time or UNKNOWN_TIME:<21} {lines[0]}")
        out += [f"{'':<21}   {line}" for line in lines[1:]]
    if history.forgotten:
        out += ["", "forgotten by the cluster:"]
        out += [f"  - {text}" for text in history.forgotten]
    return "\n".join(out) + "\n"


def _version_lines(v: Version) -> list[str]:
    if not v.exists:
        return [f"version {v.name}: deleted (named as a parent; nothing else is known)"]
    sha = f", sha256 {v.sha256[:12]}…" if v.sha256 else ""
    lines = [f"version {v.name} created (Ready {v.ready or 'unknown'}{sha})"]
    lines += _lineage_lines(v.lineage)
    if v.validation is not None and not v.validation.completed_at:
        lines.append(f"validation: {v.validation.reason} {v.validation.message}".rstrip())
    return lines


def _lineage_lines(lin: Lineage) -> list[str]:
    lines = []
    made = []
    if lin.parent:
        made.append(f"parent {lin.parent}")
    if lin.drift_policy or lin.drift_evaluation:
        made.append(f"triggered by DriftPolicy {lin.drift_policy or '?'} evaluation at {lin.drift_evaluation or '?'}")
    if lin.training_job:
        made.append(f"training Job {lin.training_job}")
    if made:
        lines.append("; ".join(made))
    if lin.dataset_uri or lin.dataset_sha256:
        digest = f" (sha256 {lin.dataset_sha256[:12]}…)" if lin.dataset_sha256 else ""
        lines.append(f"dataset {lin.dataset_uri or '?'}{digest}")
    if lin.estimator or lin.params:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(lin.params.items()))
        lines.append(f"estimator {lin.estimator or '?'}" + (f" ({params})" if params else ""))
    if lin.experiment_run is not None:
        run = lin.experiment_run
        where = f" at {run.tracking_uri}" if run.tracking_uri else ""
        lines.append(f"experiment run {run.run_id}{where}")
    if lin.training_code:
        lines.append("code " + ", ".join(f"{k} {v}" for k, v in sorted(lin.training_code.items())))
    return lines or ["no lineage recorded (a hand-made version)"]


def _validation_lines(v: Version) -> list[str]:
    assert v.validation is not None
    val = v.validation
    job = f" (Job {val.job})" if val.job else ""
    lines = [f"validation of {v.name}: {val.reason}{job}"]
    lines += [_figure(f) for f in val.figures]
    if not val.figures and val.message:
        lines.append(val.message)
    return lines


def _figure(f: Figure) -> str:
    where = f"[{f.group}]" if f.group else ""
    value = "n/a" if f.value is None else f"{f.value:.4g}"
    limit = "" if f.limit is None else f" ({f.bound or 'limit'} {f.limit:.4g})"
    return f"{f.verdict:<4} {f.metric}{where} = {value}{limit}"


def _decision_lines(d: Decision) -> list[str]:
    what = f"{d.result} {d.version}".strip()
    lines = [f"rollout {d.deployment}: {what}" + (f": {d.reason}" if d.reason and d.reason not in what else "")]
    lines += [f"{e.time} {e.type} {e.reason}: {e.message}" for e in d.events if not _same(e.message, d.reason)]
    return lines


def _same(message: str, reason: str) -> bool:
    return bool(reason) and message == reason



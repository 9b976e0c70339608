"""The trainer's result: what the operator reads from the Job pod's terminated state.

Kubernetes keeps at most 4096 bytes of a termination message, so the result is encoded
to fit: when the whole of it is too large (long URIs, a long error message), the parts
the operator needs least are dropped first (the champion's and challenger's metrics other
than the gate's, then the dataset URI, then the message is cut), and ``truncated`` says so.
The verdict, the artifact's URI and digest and the gate's figures are always kept.

Shape (camelCase JSON, keys sorted)::

    {"result": "Succeeded" | "GateFailed" | "Failed", "reason": "Improved", "message": "...",
     "modelVersion": "churn-v2", "artifact": {"uri": "s3://…/churn-v2/", "sha256": "…"},
     "dataset": {"uri": "…", "sha256": "…", "rows": 5000},
     "metrics": {"challenger": {"roc_auc": 0.91, …}, "champion": {…}},
     "gate": {"metric": "roc_auc", "champion": 0.88, "challenger": 0.91, "passed": true, …}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

from modelops.training.gate import GateVerdict

TERMINATION_MESSAGE_LIMIT = 4096
Outcome = Literal["Succeeded", "GateFailed", "Failed"]


@dataclass(frozen=True)
class TrainResult:
    result: Outcome
    reason: str
    message: str = ""
    model_version: str | None = None
    artifact_uri: str | None = None
    artifact_sha256: str | None = None
    dataset_uri: str | None = None
    dataset_sha256: str | None = None
    dataset_rows: int | None = None
    challenger_metrics: Mapping[str, float] = field(default_factory=dict)
    champion_metrics: Mapping[str, float] | None = None
    gate: GateVerdict | None = None
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "reason": self.reason, "message": self.message}
        if self.model_version is not None:
            out["modelVersion"] = self.model_version
        if self.artifact_uri is not None:
            out["artifact"] = {"uri": self.artifact_uri, "sha256": self.artifact_sha256}
        if self.dataset_sha256 is not None or self.dataset_uri is not None:
            out["dataset"] = {k: v for k, v in (("uri", self.dataset_uri), ("sha256", self.dataset_sha256),
                                                ("rows", self.dataset_rows)) if v is not None}
        metrics: dict[str, Any] = {}
        if self.challenger_metrics:
            metrics["challenger"] = dict(self.challenger_metrics)
        if self.champion_metrics is not None:
            metrics["champion"] = dict(self.champion_metrics)
        if metrics:
            out["metrics"] = metrics
        if self.gate is not None:
            out["gate"] = self.gate.to_json()
        if self.truncated:
            out["truncated"] = True
        return out


def _dumps(result: TrainResult) -> bytes:
    return orjson.dumps(result.to_json(), option=orjson.OPT_SORT_KEYS)


def encode(result: TrainResult, limit: int = TERMINATION_MESSAGE_LIMIT) -> bytes:
    """The result as JSON of at most ``limit`` bytes (see the module docstring)."""
    data = _dumps(result)
    if len(data) <= limit:
        return data
    gate_metric = result.gate.metric if result.gate else None

    def only_gate(metrics: Mapping[str, float] | None) -> dict[str, float] | None:
        if metrics is None:
            return None
        return {k: v for k, v in metrics.items() if k == gate_metric}

    shrinks: list[Callable[[TrainResult], TrainResult]] = [
        lambda r: replace(r, challenger_metrics=only_gate(r.challenger_metrics) or {},
                          champion_metrics=only_gate(r.champion_metrics)),
        lambda r: replace(r, dataset_uri=None),
        lambda r: replace(r, gate=_short_gate(r.gate)),
    ]
    current = replace(result, truncated=True)
    for shrink in shrinks:
        current = shrink(current)
        data = _dumps(current)
        if len(data) <= limit:
            return data
    # Cut the message to what is left (JSON escaping can make a character several bytes).
    overflow = len(data) - limit
    message = current.message
    while len(data) > limit and message:
        message = message[: max(0, len(message) - max(overflow, 16))] + "…"
        if message == "…":
            message = ""
        current = replace(current, message=message)
        data = _dumps(current)
        overflow = len(data) - limit
    if len(data) > limit:
        # Only pathological URIs get here: keep the verdict, which always fits.
        data = _dumps(TrainResult(result=result.result, reason=result.reason, truncated=True))
    return data


def _short_gate(gate: GateVerdict | None) -> GateVerdict | None:
    return replace(gate, message="") if gate is not None else None


def decode(data: str | bytes) -> TrainResult:
    """A result as ``encode`` wrote it (the operator reads it from the Job pod's termination
    message); ValueError naming what is wrong when it is not one."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the trainer's result is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("the trainer's result is not a JSON object")
    outcome = raw.get("result")
    if outcome not in ("Succeeded", "GateFailed", "Failed"):
        raise ValueError(f"the trainer's result says {outcome!r}, not Succeeded, GateFailed or Failed")
    artifact = raw.get("artifact") or {}
    dataset = raw.get("dataset") or {}
    metrics = raw.get("metrics") or {}
    try:
        gate = _decode_gate(raw["gate"]) if raw.get("gate") else None
        return TrainResult(
            result=outcome,
            reason=str(raw.get("reason") or outcome),
            message=str(raw.get("message") or ""),
            model_version=raw.get("modelVersion"),
            artifact_uri=artifact.get("uri"),
            artifact_sha256=artifact.get("sha256"),
            dataset_uri=dataset.get("uri"),
            dataset_sha256=dataset.get("sha256"),
            dataset_rows=dataset.get("rows"),
            challenger_metrics={str(k): float(v) for k, v in (metrics.get("challenger") or {}).items()},
            champion_metrics=(
                {str(k): float(v) for k, v in metrics["champion"].items()} if metrics.get("champion") is not None
                else None
            ),
            gate=gate,
            truncated=bool(raw.get("truncated", False)),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the trainer's result is malformed: {exc!r}") from None


def _decode_gate(raw: Mapping[str, Any]) -> GateVerdict:
    champion = raw.get("champion")
    return GateVerdict(
        metric=str(raw["metric"]),
        higher_is_better=bool(raw["higherIsBetter"]),
        challenger=float(raw["challenger"]),
        champion=float(champion) if champion is not None else None,
        min_improvement=float(raw.get("minImprovement", 0.0)),
        passed=bool(raw["passed"]),
        reason=str(raw["reason"]),
        message=str(raw.get("message", "")),
    )

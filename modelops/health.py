"""Health of a modelops resource as Argo CD sees it: Healthy, Progressing, Degraded or Suspended.

This is the Python twin of the Lua checks in ``manifests/argocd/modelops.dev/<Kind>/health.lua``
(Argo CD runs Lua, the CLI and tests run this); ``tests/manifests/test_argocd_health.py`` runs both
on the same fixtures and fails when they disagree. The rules follow Argo Rollouts' own check, in
this order:

1. no status yet, or ``status.observedGeneration`` (or the Ready condition's) behind
   ``metadata.generation``: Progressing, since the operator has not looked at this spec yet;
2. a failure the user must fix: Degraded (``InvalidSpec``, a ModelVersion's artifact or
   validation failure or error, a ModelDeployment rolled back or failed, ``Stalled``/``Degraded`` True);
3. a pause the user asked for: Suspended (``spec.paused``, a ModelDeployment in phase Paused,
   ``spec.suspend`` on a DriftPolicy);
4. a ModelDeployment in phase Pending or Progressing: Progressing, even while its stable
   version is Ready (Argo CD should not call a half-done canary Healthy);
5. ``Ready=True``: Healthy; anything else is still Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

HealthStatus = Literal["Healthy", "Progressing", "Degraded", "Suspended"]

# Reasons on a False condition that no amount of waiting fixes: the spec or the artifact must change.
FAILED_REASONS: dict[str, frozenset[str]] = {
    "ModelVersion": frozenset(
        {
            "InvalidSpec",
            "InvalidArtifact",
            "DigestMismatch",
            "ArtifactNotFound",
            "UnsupportedFormat",
            "UntrustedFormat",
            "UntrustedType",
            "ArtifactUnreachable",
            "ValidationFailed",
            "ValidationError",
            "VersionSkew",
            "NameConflict",
        }
    ),
    "ModelDeployment": frozenset({"InvalidSpec"}),
    "DriftPolicy": frozenset({"InvalidSpec"}),
}
FAILED_PHASES = frozenset({"RolledBack", "Failed"})
ROLLING_PHASES = frozenset({"Pending", "Progressing"})
KINDS = tuple(FAILED_REASONS)


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    message: str


def health(obj: Mapping[str, Any]) -> Health:
    """Assess one ModelVersion, ModelDeployment or DriftPolicy given as the API returns it."""
    kind = obj.get("kind")
    if kind not in FAILED_REASONS:
        raise ValueError(f"no health check for kind {kind!r}; expected one of {', '.join(KINDS)}")
    spec: Mapping[str, Any] = obj.get("spec") or {}
    status: Mapping[str, Any] | None = obj.get("status")
    if not status:
        return Health("Progressing", "Waiting for the operator to report status")

    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return Health("Progressing", f"Waiting for the operator to observe generation {generation}")
    conditions: Sequence[Mapping[str, Any]] = status.get("conditions") or []
    ready = _condition(conditions, "Ready")
    ready_generation = None if ready is None else ready.get("observedGeneration")
    if generation is not None and ready_generation is not None and ready_generation < generation:
        return Health("Progressing", f"Waiting for the Ready condition of generation {generation}")

    for condition in conditions:
        if condition.get("status") == "False" and condition.get("reason") in FAILED_REASONS[kind]:
            return Health("Degraded", _describe(condition))
    for condition in conditions:
        if condition.get("type") in ("Stalled", "Degraded") and condition.get("status") == "True":
            return Health("Degraded", _describe(condition))
    phase = status.get("phase")
    progressing = _describe(_condition(conditions, "Progressing"))
    if kind == "ModelDeployment" and phase in FAILED_PHASES:
        # The Progressing condition says why the candidate failed; Ready only what still serves.
        return Health("Degraded", _joined(f"Rollout {phase}", progressing or _describe(ready)))

    if kind == "ModelDeployment" and spec.get("paused") is True:
        return Health("Suspended", "Rollout paused by spec.paused")
    if kind == "ModelDeployment" and phase == "Paused":
        return Health("Suspended", _joined("Rollout paused", _describe(ready)))
    if kind == "DriftPolicy" and spec.get("suspend") is True:
        return Health("Suspended", "Drift evaluation suspended by spec.suspend")

    # Like a Rollout mid-canary: the stable version may be Ready, but the rollout is not done.
    if kind == "ModelDeployment" and phase in ROLLING_PHASES:
        return Health("Progressing", progressing or _describe(ready) or f"Rollout {phase}")

    if ready is not None and ready.get("status") == "True":
        return Health("Healthy", _describe(ready))
    return Health("Progressing", _describe(ready) or "Waiting for the Ready condition")


def _condition(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def _describe(condition: Mapping[str, Any] | None) -> str:
    # A condition's message is for humans; fall back to its reason so Argo CD never shows nothing.
    if condition is None:
        return ""
    return str(condition.get("message") or condition.get("reason") or "")


def _joined(headline: str, detail: str) -> str:
    return f"{headline}: {detail}" if detail else headline

"""Recreate (and every first rollout): the candidate at full scale beside the stable
version; once all its replicas are available Service D switches to it and the old
version goes. Not available by ``progressDeadline``: rolled back. ``spec.paused`` holds
it, and the deadline starts afresh when the pause ends."""

from __future__ import annotations

from modelops.conditions import Desired
from modelops.operator.modeldeployment.strategies.step import Decision, Inputs, seconds_until


def decide(inp: Inputs) -> Decision:
    replicas = inp.spec.replicas
    available = inp.available(inp.candidate_child, replicas)
    figures = f"{available}/{replicas} replicas available"
    if inp.action == "abort":
        return _rollback(inp, f"{inp.candidate}: aborted by the abort action ({figures})", "Aborted")
    if available >= replicas and (not inp.spec.paused or inp.action == "promote"):
        return Decision(
            phase="Stable", progressing=Desired("Progressing", "False", "Stable", f"{inp.candidate} is stable"),
            outcome="promote", reason=f"all {replicas} replica(s) available ({figures})", candidate_replicas=replicas,
            weight=100,
        )  # fmt: skip
    if inp.spec.paused:
        return Decision(
            phase="Paused", started=None, candidate_replicas=replicas,
            progressing=Desired("Progressing", "False", "Paused", f"rollout of {inp.candidate} paused: {figures}"),
        )  # fmt: skip
    started = inp.started()
    if inp.now - started >= inp.deadline:
        reason = f"{inp.candidate}: {figures} after progressDeadline {inp.spec.strategy.progress_deadline}"
        return _rollback(inp, reason, "ProgressDeadlineExceeded")
    return Decision(
        phase="Progressing", started=started, candidate_replicas=replicas,
        progressing=Desired("Progressing", "True", "RollingOut", f"rolling out {inp.candidate}: {figures}"),
        requeue_after=seconds_until(inp.now, started + inp.deadline),
    )  # fmt: skip


def _rollback(inp: Inputs, reason: str, why: str) -> Decision:
    return Decision(
        phase="RolledBack" if inp.stable else "Failed",
        progressing=Desired("Progressing", "False", why, reason),
        outcome="rollback", reason=reason,
    )  # fmt: skip

"""Canary: ordered steps ``{weight, pause}``, analysed (replicas below are the Replicas
router's; under GatewayAPI the candidate runs ``N`` replicas and HTTPRoute D gives it the
step's weight exactly: ``traffic``).

Replicas. ``spec.replicas`` (``N``) is the stable version's count and is never reduced
before promotion (as Argo Rollouts' basic canary without ``dynamicStableScale``). The
candidate gets ``max(1, round(N * weight / 100))`` replicas (half rounds up, never more
than ``N``), and Service ``D`` selects both versions' pods, so the candidate's share of
traffic is its share of the *ready* pods: ``status.weight`` is that effective share, and
the Progressing message says when it differs from the step's weight (with ``N=4`` a step
of 50 gives the candidate 2 of 6 pods: 33%). After the last step the candidate is scaled
to ``N``, and once all ``N`` are available it is promoted.

A step advances when the latest analysis of the step passed (``stepVerdict: Pass``) and
its pause elapsed (past the last step ``stepVerdict`` stays Pass; a ``promote`` action
clears it, so the promotion's history entry says which it was). Analysis runs every
``analysis.interval`` while the candidate's pods are available (``analysis_due``; sync
fetches the observation, this module only consumes it). Under the Replicas router the first
analysis of a step that gave the candidate more pods cannot pass, only fail: its interval
began at the step before's last analysis, while the new pods started and the candidate served
at that step's weight (so a step holds at least one interval at its own weight). Failed
analyses count over the rollout (``failedAnalyses``): reaching ``failureLimit`` rolls back.
A step with no passing analysis by ``progressDeadline`` (counted from the step's start) goes
to phase Paused, reason InsufficientData, and stays there (no more analysis) until a
``promote`` or ``abort`` action. Candidate pods not available by the deadline roll back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from modelops.api.common import parse_duration
from modelops.api.modeldeployment import AnalysisResult, Canary, CanaryStep, ModelDeploymentSpec, Verdict
from modelops.conditions import Desired, now_rfc3339
from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.verdicts import (
    AnalysisRun,
    count_failures,
    evaluate_observation,
    failures_exceeded,
    first_failure,
)
from modelops.operator.modeldeployment.strategies import traffic
from modelops.operator.modeldeployment.strategies.step import Decision, Inputs, effective_weight, seconds_until
from modelops.operator.plans import Event


def steps(inp: Inputs) -> list[CanaryStep]:
    return list((inp.spec.strategy.canary or Canary()).steps)


def invalid_steps(canary: Canary | None) -> str | None:
    """What the schema cannot say about the steps (weights increasing), naming the field."""
    weights = [s.weight for s in (canary or Canary()).steps]
    if not weights:
        return "spec.strategy.canary.steps: at least one step is needed"
    for i in range(1, len(weights)):
        if weights[i] <= weights[i - 1]:
            return (
                f"spec.strategy.canary.steps[{i}].weight: weights must increase, got {weights[i]} after "
                f"{weights[i - 1]}"
            )
    return None


def candidate_replicas(total: int, weight: int) -> int:
    """``max(1, round(total * weight / 100))``, half up, at most ``total``."""
    return min(total, max(1, int(total * weight / 100 + 0.5)))


def replicas_for(spec: ModelDeploymentSpec, weight: int) -> int:
    """The candidate's replicas at ``weight`` (``traffic``): its share of ``spec.replicas``, or
    all of them when a Gateway splits the traffic."""
    return spec.replicas if traffic.exact(spec) else candidate_replicas(spec.replicas, weight)


def _index(inp: Inputs) -> int:
    raw = inp.status.get("step") if inp.resumed else 0
    return min(max(int(raw or 0), 0), len(steps(inp)))


def _verdict(inp: Inputs) -> Verdict | None:
    raw = inp.status.get("stepVerdict") if inp.resumed else None
    return raw if raw in ("Pass", "Fail", "Inconclusive") else None


def _started(inp: Inputs) -> datetime:
    return inp.started()


def _last_analysis(inp: Inputs) -> datetime | None:
    raw = inp.status.get("lastAnalysisAt") if inp.resumed else None
    return datetime.fromisoformat(str(raw)) if raw else None


def _insufficient(inp: Inputs, started: datetime, verdict: Verdict | None) -> bool:
    return verdict in (None, "Inconclusive") and inp.now - started >= inp.deadline


def analysis_due(inp: Inputs) -> bool:
    """Whether this reconcile should fetch an observation for the analysis."""
    if inp.stable is None or not inp.resumed or inp.spec.paused or inp.action is not None:
        return False
    i = _index(inp)
    if i >= len(steps(inp)) or not inp.status.get("stepStartedAt"):
        return False
    wanted = replicas_for(inp.spec, steps(inp)[i].weight)
    if inp.available(inp.candidate_child, wanted) < wanted:
        return False
    if _insufficient(inp, _started(inp), _verdict(inp)):
        return False  # Paused, InsufficientData: only an action moves it on
    last = _last_analysis(inp)
    return last is None or inp.now >= last + parse_duration(inp.spec.strategy.analysis.interval)


def decide(inp: Inputs) -> Decision:
    assert inp.stable is not None, "a canary needs a stable version to compare with"
    stable = inp.stable
    plan = steps(inp)
    n_total = inp.spec.replicas
    i = _index(inp)
    started = _started(inp)
    verdict = _verdict(inp)
    failed = int(inp.status.get("failedAnalyses") or 0) if inp.resumed else 0
    last = inp.status.get("lastAnalysisAt") if inp.resumed else None
    analysis: tuple[AnalysisResult, ...] | None = None if inp.resumed else ()
    events: list[Event] = []
    stable_ready = inp.stable_child.available if inp.stable_child is not None else 0
    # The weight is the share of the pods that serve now: while the candidate scales up to a
    # step's replicas, its pods of the step before still serve (not 0 until the scale is seen).
    serving = inp.candidate_child.available if inp.candidate_child is not None else 0
    state = {"failed_analyses": failed}

    def rollback(reason: str, why: str) -> Decision:
        return Decision(
            phase="RolledBack", progressing=Desired("Progressing", "False", why, reason), outcome="rollback",
            reason=reason, step=i, verdict=verdict, failed_analyses=state["failed_analyses"],
            last_analysis_at=last, analysis=analysis, events=tuple(events),
        )  # fmt: skip

    if inp.action == "abort":
        return rollback(f"{inp.candidate} at step {min(i + 1, len(plan))}/{len(plan)}: aborted by the abort action",
                        "Aborted")
    if inp.observation is not None:
        thresholds = Thresholds.from_spec(inp.spec.strategy)
        run = evaluate_observation(inp.observation, stable, inp.candidate, thresholds, inp.now)
        if verdict is None and _scaled_up(inp, plan, i):
            run = _scaled_up_during(run, wanted=replicas_for(inp.spec, plan[i].weight))
        verdict = run.decision
        failed = count_failures(failed, verdict)
        state["failed_analyses"] = failed
        last = now_rfc3339(inp.now)
        analysis = tuple(run.to_status())
        where = f"step {i + 1}/{len(plan)}"
        if verdict == "Fail":
            events.append(Event("Warning", "AnalysisFailed",
                                f"{where}: analysis Fail ({failed} of failureLimit "
                                f"{max(inp.spec.strategy.analysis.failure_limit, 1)}): {run.describe()}"))
        else:
            events.append(Event("Normal", f"Analysis{verdict}", f"{where}: analysis {verdict}: {run.describe()}"))
        if failures_exceeded(failed, inp.spec.strategy.analysis.failure_limit):
            bad = first_failure(run.results)
            figures = bad.message if bad is not None else run.describe()
            metric = bad.metric if bad is not None else "analysis"
            return rollback(f"{inp.candidate}: {metric} failed at {where} ({figures}); {failed} failed "
                            f"analysis(es)", "AnalysisFailed")
    if inp.action == "promote" and i < len(plan):
        events.append(Event("Normal", "PromoteRequested",
                            f"{inp.candidate}: promote action at step {i + 1}/{len(plan)}: skipping the remaining "
                            f"steps"))
        i, started, verdict = len(plan), inp.now, None

    def hold(phase: str, reason: str, message: str, *, wanted: int, requeue: float | None,
             keep_started: bool = True) -> Decision:
        ready = inp.available(inp.candidate_child, wanted)
        weight = effective_weight(stable_ready, serving)
        if traffic.exact(inp.spec):
            weight = traffic.routed_weight(plan[min(i, len(plan) - 1)].weight, ready, wanted)
        return Decision(
            phase="Paused" if phase == "Paused" else "Progressing",
            progressing=Desired("Progressing", "True" if phase == "Progressing" else "False", reason, message),
            step=i, started=started if keep_started else None, candidate_replicas=wanted, both_serve=True,
            weight=weight, verdict=verdict, failed_analyses=failed,
            last_analysis_at=last, analysis=analysis, events=tuple(events), requeue_after=requeue,
        )  # fmt: skip

    # Steps whose analysis passed and pause elapsed are left behind, one per reconcile.
    if i < len(plan):
        step = plan[i]
        wanted = replicas_for(inp.spec, step.weight)
        ready = inp.available(inp.candidate_child, wanted)
        pause_end = pause_end_of(step, started)
        if ready >= wanted and not inp.spec.paused and verdict == "Pass" and inp.now >= pause_end:
            events.append(Event("Normal", "StepPassed",
                                f"{inp.candidate}: step {i + 1}/{len(plan)} (weight {step.weight}%) passed"))
            # past the last step the passing verdict stays: promotion says all steps passed
            i, started, verdict = i + 1, inp.now, (None if i + 1 < len(plan) else verdict)
    if i < len(plan):
        step = plan[i]
        wanted = replicas_for(inp.spec, step.weight)
        ready = inp.available(inp.candidate_child, wanted)
        weight = effective_weight(stable_ready, serving)
        where = f"step {i + 1}/{len(plan)}, weight {step.weight}%"
        share = (f"{serving}/{wanted} candidate and {stable_ready}/{n_total} stable replicas ready: effective "
                 f"weight {weight}%")
        if traffic.exact(inp.spec):
            weight = traffic.routed_weight(step.weight, ready, wanted)
            share = (f"{ready}/{wanted} candidate and {stable_ready}/{n_total} stable replicas ready: HTTPRoute "
                     f"weight {weight}%")
            if weight != step.weight:
                share += f" (the step's {step.weight}% once all candidate replicas are available)"
        elif weight != step.weight:
            share += f" (not the step's {step.weight}%: the stable version keeps its {n_total} replicas)"
        if inp.spec.paused:
            return hold("Paused", "Paused", f"rollout of {inp.candidate} paused by spec.paused at {where}; {share}",
                        wanted=wanted, requeue=None, keep_started=False)
        deadline_at = started + inp.deadline
        if ready < wanted:
            if inp.now >= deadline_at:
                return rollback(f"{inp.candidate}: {ready}/{wanted} replicas available after progressDeadline "
                                f"{inp.spec.strategy.progress_deadline} at {where}", "ProgressDeadlineExceeded")
            return hold("Progressing", "RollingOut", f"{where}: waiting for pods; {share}", wanted=wanted,
                        requeue=seconds_until(inp.now, deadline_at))
        if _insufficient(inp, started, verdict):
            return hold("Paused", "InsufficientData",
                        f"{where}: no conclusive analysis within progressDeadline "
                        f"{inp.spec.strategy.progress_deadline} (too few samples); annotate "
                        f"modelops.dev/action=promote or abort; {share}", wanted=wanted, requeue=None)
        interval = parse_duration(inp.spec.strategy.analysis.interval)
        next_analysis = datetime.fromisoformat(last) + interval if last else inp.now
        wake = min(next_analysis, deadline_at) if verdict != "Pass" else min(next_analysis, pause_end_of(step, started))
        return hold("Progressing", "RollingOut", f"{where}, analysis {verdict or 'pending'}; {share}",
                    wanted=wanted, requeue=seconds_until(inp.now, wake))
    # Every step passed (or a promote action): the candidate at full scale, then promoted.
    ready = inp.available(inp.candidate_child, n_total)
    if ready >= n_total:
        why = f"all {len(plan)} steps passed" if verdict == "Pass" else "promote action"
        return Decision(
            phase="Stable", progressing=Desired("Progressing", "False", "Stable", f"{inp.candidate} is stable"),
            outcome="promote", reason=f"{why}; {ready}/{n_total} replicas available", step=i,
            candidate_replicas=n_total, weight=100, verdict=verdict, failed_analyses=failed, last_analysis_at=last,
            analysis=analysis, events=tuple(events),
        )  # fmt: skip
    deadline_at = started + inp.deadline
    if inp.now >= deadline_at and not inp.spec.paused:
        return rollback(f"{inp.candidate}: {ready}/{n_total} replicas available after progressDeadline "
                        f"{inp.spec.strategy.progress_deadline} while promoting", "ProgressDeadlineExceeded")
    return hold("Progressing", "RollingOut", f"promoting {inp.candidate}: {ready}/{n_total} replicas available",
                wanted=n_total, requeue=seconds_until(inp.now, deadline_at))


def _scaled_up(inp: Inputs, plan: list[CanaryStep], i: int) -> bool:
    """Whether step ``i`` gave the candidate more pods than the step before (Replicas router)."""
    return (0 < i < len(plan) and not traffic.exact(inp.spec)
            and replicas_for(inp.spec, plan[i].weight) > replicas_for(inp.spec, plan[i - 1].weight))


def _scaled_up_during(run: AnalysisRun, *, wanted: int) -> AnalysisRun:
    """The first analysis of a later step under the Replicas router: its interval began at the
    step before's last analysis, so the candidate served at that step's weight while its new
    pods started. It may fail (the figures are the candidate's), never pass: the step's own
    figures come one interval later (else a step passed the moment its pods were ready)."""
    why = f"interval began before the step's {wanted} candidate replicas were available: figures next interval"
    return AnalysisRun(
        results=tuple(replace(r, verdict="Inconclusive", message=f"{r.message} ({why})") if r.verdict == "Pass"
                      else r for r in run.results),
        skipped=run.skipped,
    )


def pause_end_of(step: CanaryStep, started: datetime) -> datetime:
    return started + (parse_duration(step.pause) if step.pause else timedelta(0))

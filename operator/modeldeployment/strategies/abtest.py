"""ABTest: a fixed split until the test can decide.

The candidate gets ``max(1, round(N * abTest.weight / 100))`` replicas beside the stable
version's ``N`` (as a canary step, see ``canary``); Service D selects both. Under router
GatewayAPI it gets ``N`` and HTTPRoute D splits by exact weight (``traffic``). Every
``analysis.interval`` the interval's counts per arm (``abTest.metric``: correct feedback
labels over labelled rows, or 5xx answers over requests) are added to the running counts
in ``status.abTest`` (``samples`` and ``successes`` per arm: a restarted operator resumes
them; the interval after a restart is a baseline and adds nothing). Once ``minDuration``
has passed since the test started and each arm has ``minSamples``, the two-proportion
z-test (``operator.analysis.abtest.compare``, scipy) at ``confidence`` decides:

- the candidate wins: it is scaled to ``N`` and promoted (``step`` 1 is that promotion);
- the stable version wins, or no significant difference: the stable version is kept, the
  candidate removed, ``history`` says why (Progressing reason ``StableWins`` or
  ``NoDifference``); it is not tried again until the spec or a ``retry`` action changes.

Still short of ``minSamples`` a ``progressDeadline`` after ``minDuration``: phase Paused,
reason InsufficientData, until a ``promote`` or ``abort`` action.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.api.common import parse_duration
from modelops.api.modeldeployment import ABTest, ABTestStatus
from modelops.conditions import Desired, now_rfc3339
from modelops.operator.analysis.abtest import Arm, arm, check_metric, compare
from modelops.operator.modeldeployment.strategies import traffic
from modelops.operator.modeldeployment.strategies.canary import replicas_for
from modelops.operator.modeldeployment.strategies.step import Decision, Inputs, effective_weight, seconds_until
from modelops.operator.plans import Event

TESTING, PROMOTING = 0, 1


def _spec(inp: Inputs) -> ABTest:
    return inp.spec.strategy.ab_test or ABTest()


def _counts(inp: Inputs) -> tuple[Arm, Arm, Mapping[str, Any]]:
    raw = (inp.status.get("abTest") or {}) if inp.resumed else {}
    try:
        status = ABTestStatus.model_validate(raw)
        return (Arm(status.successes.stable, status.samples.stable),
                Arm(status.successes.candidate, status.samples.candidate), raw)
    except ValueError:
        return Arm(0, 0), Arm(0, 0), {}


def _step(inp: Inputs) -> int:
    return PROMOTING if inp.resumed and int(inp.status.get("step") or 0) >= PROMOTING else TESTING


def analysis_due(inp: Inputs) -> bool:
    if inp.stable is None or not inp.resumed or inp.spec.paused or inp.action is not None:
        return False
    if _step(inp) != TESTING or not inp.status.get("stepStartedAt"):
        return False
    wanted = replicas_for(inp.spec, _spec(inp).weight)
    if inp.available(inp.candidate_child, wanted) < wanted:
        return False
    raw = inp.status.get("lastAnalysisAt")
    last = datetime.fromisoformat(str(raw)) if raw else None
    return last is None or inp.now >= last + parse_duration(inp.spec.strategy.analysis.interval)


def _ab_status(stable: Arm, candidate: Arm, winner: str | None = None, statistic: float | None = None,
               p_value: float | None = None) -> dict[str, Any]:
    return {
        "winner": winner, "statistic": None if statistic is None else round(statistic, 6),
        "pValue": None if p_value is None else float(f"{p_value:.6g}"),
        "samples": {"stable": stable.trials, "candidate": candidate.trials},
        "successes": {"stable": stable.successes, "candidate": candidate.successes},
    }


def decide(inp: Inputs) -> Decision:
    assert inp.stable is not None, "an A/B test needs a stable version"
    ab = _spec(inp)
    metric = check_metric(ab.metric)
    n_total = inp.spec.replicas
    step = _step(inp)
    started = inp.started()
    stable_arm, candidate_arm, raw = _counts(inp)
    ab_status: dict[str, Any] = dict(raw) if raw else _ab_status(stable_arm, candidate_arm)
    last = inp.status.get("lastAnalysisAt") if inp.resumed else None
    events: list[Event] = []
    stable_ready = inp.stable_child.available if inp.stable_child is not None else 0

    def decision(phase: str, code: str, message: str, **kw: Any) -> Decision:
        wanted = kw.pop("wanted", replicas_for(inp.spec, ab.weight))
        ready = inp.available(inp.candidate_child, wanted)
        weight = (traffic.routed_weight(ab.weight, ready, wanted) if traffic.exact(inp.spec)
                  else effective_weight(stable_ready, ready))
        return Decision(
            phase="Paused" if phase == "Paused" else "Stable" if phase == "Stable" else
            "RolledBack" if phase == "RolledBack" else "Progressing",
            progressing=Desired("Progressing", "True" if phase == "Progressing" else "False", code, message),
            step=step, started=started, candidate_replicas=wanted, both_serve=True,
            weight=weight,
            last_analysis_at=last, ab_test=ab_status, events=tuple(events), **kw,
        )  # fmt: skip

    if inp.action == "abort":
        return decision("RolledBack", "Aborted", f"{inp.candidate}: A/B test aborted by the abort action",
                        outcome="rollback", reason=f"{inp.candidate}: A/B test aborted by the abort action")
    if inp.observation is not None and step == TESTING:
        stable_arm = stable_arm + arm(inp.observation.sample(inp.stable), metric)
        candidate_arm = candidate_arm + arm(inp.observation.sample(inp.candidate), metric)
        last = now_rfc3339(inp.now)
        ab_status = _ab_status(stable_arm, candidate_arm)
    if inp.action == "promote" and step == TESTING:
        events.append(Event("Normal", "PromoteRequested", f"{inp.candidate}: promote action during the A/B test"))
        step, started = PROMOTING, inp.now
    if step == TESTING:
        wanted = replicas_for(inp.spec, ab.weight)
        ready = inp.available(inp.candidate_child, wanted)
        deadline_at = started + inp.deadline
        if inp.spec.paused:
            return decision("Paused", "Paused", f"A/B test of {inp.candidate} paused by spec.paused")
        if ready < wanted:
            if inp.now >= deadline_at:
                return decision("RolledBack", "ProgressDeadlineExceeded",
                                f"{inp.candidate}: {ready}/{wanted} replicas available after progressDeadline",
                                outcome="rollback",
                                reason=f"{inp.candidate}: {ready}/{wanted} replicas available after progressDeadline "
                                       f"{inp.spec.strategy.progress_deadline}")
            return decision("Progressing", "RollingOut", f"A/B test: waiting for {ready}/{wanted} candidate pods",
                            requeue_after=seconds_until(inp.now, deadline_at))
        outcome = compare(stable_arm, candidate_arm, metric=metric, confidence=ab.confidence,
                          min_samples=ab.min_samples, stable_version=inp.stable, candidate_version=inp.candidate)
        min_end = started + parse_duration(ab.min_duration)
        if inp.observation is not None:
            events.append(Event("Normal", "ABTestAnalysed", f"A/B test: {outcome.message}"))
        if inp.now >= min_end and outcome.verdict != "Inconclusive":
            ab_status = _ab_status(stable_arm, candidate_arm, outcome.winner, outcome.statistic, outcome.p_value)
            if outcome.verdict == "CandidateWins":
                events.append(Event("Normal", "ABTestConcluded", f"{inp.candidate} wins: {outcome.message}"))
                step, started = PROMOTING, inp.now
            else:
                why = f"A/B test: {outcome.message}; {inp.stable} kept"
                return decision("Stable", outcome.verdict, why, outcome="keep_stable", reason=why)
        elif inp.now >= min_end + inp.deadline:
            return decision("Paused", "InsufficientData",
                            f"A/B test: {outcome.message}; past minDuration {ab.min_duration} and "
                            f"progressDeadline {inp.spec.strategy.progress_deadline}: annotate "
                            f"modelops.dev/action=promote or abort")
        else:
            interval = parse_duration(inp.spec.strategy.analysis.interval)
            next_at = datetime.fromisoformat(last) + interval if last else inp.now
            return decision("Progressing", "RollingOut",
                            f"A/B test at {ab.weight}% ({stable_ready} stable, {ready} candidate pods ready): "
                            f"{outcome.message}", requeue_after=seconds_until(inp.now, min(next_at, min_end)))
    ready = inp.available(inp.candidate_child, n_total)
    if ready >= n_total:
        won = ab_status.get("winner") == inp.candidate
        why = f"won the A/B test ({ab_status.get('samples')}, p={ab_status.get('pValue')})" if won \
            else "promote action"
        return decision("Stable", "Stable", f"{inp.candidate} is stable", outcome="promote",
                        reason=f"{why}; {ready}/{n_total} replicas available", wanted=n_total)
    return decision("Progressing", "RollingOut", f"promoting {inp.candidate}: {ready}/{n_total} replicas available",
                    wanted=n_total, requeue_after=seconds_until(inp.now, started + inp.deadline))

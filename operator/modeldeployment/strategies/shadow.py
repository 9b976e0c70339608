"""Shadow: the candidate answers a mirrored share of live requests that no user sees; analysed.

Stages (``status.step``):

- ``0`` shadowing. The candidate's Deployment runs ``spec.replicas`` (``N``) replicas but
  Service ``D`` keeps selecting the stable version only (its selector keeps the stable's
  ``modelops.dev/version``; the candidate's pods carry their own): users only ever get
  stable's answers, and ``status.weight`` is 0. The stable version mirrors
  ``shadow.mirrorPercent`` of its infer requests to the candidate (``Decision.mirror_percent``;
  under router Replicas as the stable pods' ``--shadow-*`` flags pointing at Service
  ``D-<candidate>``, see ``children.shadow_mirror``; setting them rolls the stable pods once,
  and so does removing them). Every ``analysis.interval``, once the candidate's ``N`` pods
  are available and the stable's pods carry the flags, the analysis compares the two
  (``verdicts.SHADOW_METRICS``: candidate errors and latency p99 ratio, PSI of the
  candidate's outputs against stable's, agreement of their predictions and the failed share
  of mirrored requests, as the stable pods counted them). Below ``shadow.minSamples``
  compared rows agreement is Inconclusive, never a pass; no passing analysis within
  ``progressDeadline``: Paused, InsufficientData, until a ``promote`` or ``abort`` action.
  ``failureLimit`` failed analyses roll back: the candidate at 0 replicas, the mirror off.
- A passing analysis ends the shadow: with ``then: Promote`` the candidate (already at
  ``N``) is promoted (``step`` 1 while its pods are not all available); with ``then:
  Canary`` the mirror stops and the rollout continues as ``canary`` does, over
  ``spec.strategy.canary.steps``: ``step`` ``k`` (1..n) is canary step ``k - 1``, and
  ``n + 1`` the promotion. Failed analyses count over the whole rollout.

Under router GatewayAPI the HTTPRoute's ``RequestMirror`` filter sends the copies, and the
gateway drops the candidate's answers unread: nobody compares them with the stable's. The
candidate is then judged on what its own pods measure of the mirrored requests they answer
(``GATEWAY_METRICS``: its own error rate, its p99 against the stable's, the PSI of its outputs
against the stable's), and ``agreement`` and ``shadowErrorRate`` are recorded in
``status.analysis`` as ``NotMeasured`` (never a silent pass: status, the Event and the
condition say they were not measured). ``shadow.minSamples`` then counts the candidate's own
answered requests (the floor of those three metrics is the larger of it and
``analysis.minSamples``).

Latency is the candidate's own served latency (its pods' request histogram, which under
Shadow counts mirrored requests only) against the stable's, both measured in the serving
process, not the answer time the mirror measured: that one adds the network and the stable
pod's client to the candidate's time, which the stable's own figure does not have, and
would fail a fast model (1 ms of network on a 2 ms p99 is a ratio of 1.5) for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from modelops.api.common import parse_duration
from modelops.api.modeldeployment import AnalysisResult, ModelDeploymentSpec, Phase, Shadow, Verdict
from modelops.conditions import Desired, now_rfc3339
from modelops.operator.analysis.criteria import Thresholds
from modelops.operator.analysis.sources import Observation
from modelops.operator.analysis.verdicts import (
    AGREEMENT,
    ERROR_RATE,
    LATENCY,
    PSI,
    SHADOW_ERRORS,
    SHADOW_METRICS,
    AnalysisRun,
    MetricName,
    count_failures,
    evaluate_observation,
    failures_exceeded,
    first_failure,
    not_measured,
)
from modelops.operator.modeldeployment import children
from modelops.operator.modeldeployment.observed import Child
from modelops.operator.modeldeployment.strategies import canary
from modelops.operator.modeldeployment.strategies.step import Decision, Inputs, seconds_until
from modelops.operator.plans import Event

SHADOWING, PROMOTING = 0, 1

# What the candidate's own pods measure of the requests a gateway mirrors to them.
GATEWAY_METRICS: tuple[MetricName, ...] = (ERROR_RATE, LATENCY, PSI)
GATEWAY_NOT_MEASURED = ("not measured under router GatewayAPI: the HTTPRoute's RequestMirror discards the "
                        "candidate's answers, so none is compared with stable's")


def settings(spec: ModelDeploymentSpec) -> Shadow:
    return spec.strategy.shadow or Shadow()


def invalid_spec(spec: ModelDeploymentSpec) -> str | None:
    """What the CRD's rule says, for objects admitted before it (``then: Canary`` needs the
    steps written out), and the steps' own rule; naming the field."""
    if settings(spec).then != "Canary":
        return None
    if spec.strategy.canary is None or "steps" not in spec.strategy.canary.model_fields_set:
        return ("spec.strategy.canary.steps: required when spec.strategy.type is Shadow with shadow.then Canary "
                "(the canary that follows the shadow)")
    return canary.invalid_steps(spec.strategy.canary)


def mirror(inp: Inputs) -> children.Mirror | None:
    """The stable pods' mirror flags while ``inp.candidate`` is shadowed (None under a router
    that mirrors by itself)."""
    assert inp.owner is not None, "a shadow needs the ModelDeployment to name the candidate's Service"
    return children.shadow_mirror(inp.owner, inp.spec, inp.candidate, settings(inp.spec).mirror_percent)


def mirroring(child: Child | None, flags: children.Mirror | None) -> bool:
    """Whether the stable Deployment as observed runs the mirror flags (or needs none) and its
    controller has seen that spec."""
    if flags is None:
        return True
    if child is None or not child.current:
        return False
    template = ((child.body.get("spec") or {}).get("template") or {}).get("spec") or {}
    args = next((c.get("args") or [] for c in template.get("containers") or [] if c.get("name") == "serve"), [])
    want = flags.args()
    return any(args[i : i + len(want)] == want for i in range(len(args) - len(want) + 1))


def _stable_mirrors(inp: Inputs) -> bool:
    """The stable's pods all available with the flags: what the analysis needs to see."""
    n = inp.spec.replicas
    return mirroring(inp.stable_child, mirror(inp)) and inp.available(inp.stable_child, n) >= n


def evaluate(inp: Inputs, observation: Observation) -> AnalysisRun:
    """The shadow's analysis of one interval, by who mirrors: the stable pods (they compare the
    answers) or a gateway (only the candidate's own figures; agreement recorded NotMeasured)."""
    assert inp.stable is not None
    thresholds = Thresholds.from_spec(inp.spec.strategy)
    if children.pods_mirror(inp.spec):
        return evaluate_observation(observation, inp.stable, inp.candidate, thresholds, inp.now,
                                    metrics=SHADOW_METRICS)
    own = replace(thresholds, min_samples=max(thresholds.min_samples, thresholds.shadow_min_samples))
    run = evaluate_observation(observation, inp.stable, inp.candidate, own, inp.now, metrics=GATEWAY_METRICS)
    unmeasured = (not_measured(AGREEMENT, thresholds.min_agreement, inp.now, GATEWAY_NOT_MEASURED),
                  not_measured(SHADOW_ERRORS, thresholds.max_error_rate, inp.now,
                               f"{GATEWAY_NOT_MEASURED}; the candidate's own errorRate stands for it"))
    return replace(run, results=run.results + unmeasured)


def _step(inp: Inputs) -> int:
    return max(int(inp.status.get("step") or 0), 0) if inp.resumed else SHADOWING


def _as_canary(inp: Inputs, status: Mapping[str, Any]) -> Inputs:
    """The inputs canary sees after the shadow: its step is ours minus the shadow stage."""
    return replace(inp, status={**status, "step": max(int(status.get("step") or 1) - 1, 0)})


def _from_canary(decision: Decision) -> Decision:
    return replace(decision, step=decision.step + 1)


def _verdict(inp: Inputs) -> Verdict | None:
    raw = inp.status.get("stepVerdict") if inp.resumed else None
    return raw if raw in ("Pass", "Fail", "Inconclusive") else None


def _insufficient(inp: Inputs, started: datetime, verdict: Verdict | None) -> bool:
    return verdict in (None, "Inconclusive") and inp.now - started >= inp.deadline


def analysis_due(inp: Inputs) -> bool:
    """Whether this reconcile should fetch an observation (the shadow's, or the canary's after it)."""
    if inp.stable is None or not inp.resumed or inp.spec.paused or inp.action is not None:
        return False
    step = _step(inp)
    if step > SHADOWING:
        return settings(inp.spec).then == "Canary" and canary.analysis_due(_as_canary(inp, inp.status))
    if not inp.status.get("stepStartedAt"):
        return False
    n = inp.spec.replicas
    if inp.available(inp.candidate_child, n) < n or not _stable_mirrors(inp):
        return False
    if _insufficient(inp, inp.started(), _verdict(inp)):
        return False  # Paused, InsufficientData: only an action moves it on
    raw = inp.status.get("lastAnalysisAt")
    last = datetime.fromisoformat(str(raw)) if raw else None
    return last is None or inp.now >= last + parse_duration(inp.spec.strategy.analysis.interval)


def decide(inp: Inputs) -> Decision:
    assert inp.stable is not None, "a shadow needs a stable version to mirror from"
    if _step(inp) > SHADOWING and settings(inp.spec).then == "Canary":
        return _from_canary(canary.decide(_as_canary(inp, inp.status)))
    return _Shadowing(inp).decide()


class _Shadowing:
    """One decision of the shadow stage (or of ``then: Promote``'s promotion)."""

    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        self.shadow = settings(inp.spec)
        self.n = inp.spec.replicas
        self.step = _step(inp)
        self.started = inp.started()
        self.verdict = _verdict(inp)
        self.failed = int(inp.status.get("failedAnalyses") or 0) if inp.resumed else 0
        self.last: str | None = inp.status.get("lastAnalysisAt") if inp.resumed else None
        self.analysis: tuple[AnalysisResult, ...] | None = None if inp.resumed else ()
        self.events: list[Event] = []
        self.share = f"{self.shadow.mirror_percent}% of live requests mirrored"
        # what shadow.minSamples counts, and what the analysis cannot see, by who mirrors
        self.counted = "compared rows" if children.pods_mirror(inp.spec) else "candidate requests answered"
        self.unmeasured = "" if children.pods_mirror(inp.spec) else (
            "; agreement not measured (router GatewayAPI: the gateway's mirror discards the candidate's answers)")
        self.figures = ""  # this reconcile's analysis figures, for the ShadowPassed Event and history

    def _decision(self, phase: Phase, code: str, message: str, *, mirrored: bool = True, **kw: Any) -> Decision:
        return Decision(
            phase=phase, progressing=Desired("Progressing", "True" if phase == "Progressing" else "False", code,
                                             message),
            step=self.step, started=self.started, candidate_replicas=self.n, both_serve=False, weight=0,
            verdict=self.verdict, failed_analyses=self.failed, last_analysis_at=self.last, analysis=self.analysis,
            events=tuple(self.events), mirror_percent=self.shadow.mirror_percent if mirrored else None, **kw,
        )  # fmt: skip

    def _rollback(self, code: str, why: str) -> Decision:
        return self._decision("RolledBack", code, why, mirrored=False, outcome="rollback", reason=why)

    def _analyse(self, observation: Observation) -> Decision | None:
        inp = self.inp
        run = evaluate(inp, observation)
        self.verdict = run.decision
        self.failed = count_failures(self.failed, self.verdict)
        self.last = now_rfc3339(inp.now)
        self.analysis = tuple(run.to_status())
        limit = inp.spec.strategy.analysis.failure_limit
        if self.verdict == "Fail":
            self.events.append(Event("Warning", "AnalysisFailed", f"shadow: analysis Fail ({self.failed} of "
                                                                  f"failureLimit {max(limit, 1)}): {run.describe()}"))
        else:
            self.events.append(Event("Normal", f"Analysis{self.verdict}",
                                     f"shadow: analysis {self.verdict}: {run.describe()}"))
        self.figures = f" ({run.describe()})"
        if failures_exceeded(self.failed, limit):
            bad = first_failure(run.results)
            figures = bad.message if bad is not None else run.describe()
            metric = bad.metric if bad is not None else "analysis"
            return self._rollback("AnalysisFailed", f"{inp.candidate}: {metric} failed in shadow ({figures}); "
                                                    f"{self.failed} failed analysis(es)")
        return None

    def _canary_status(self, step: int) -> dict[str, Any]:
        return {**self.inp.status, "candidate": self.inp.candidate, "step": step,
                "stepStartedAt": now_rfc3339(self.inp.now), "stepVerdict": None, "failedAnalyses": self.failed,
                "lastAnalysisAt": self.last}

    def _handed_over(self, status: Mapping[str, Any]) -> Decision:
        """The canary's first decision after the shadow, with this reconcile's analysis and events."""
        handed = _from_canary(canary.decide(replace(_as_canary(self.inp, status), action=None, observation=None)))
        return replace(handed, analysis=self.analysis if self.analysis is not None else handed.analysis,
                       events=(*self.events, *handed.events), failed_analyses=self.failed,
                       last_analysis_at=self.last)

    def _promote(self, why: str) -> Decision:
        inp = self.inp
        self.step = PROMOTING
        ready = inp.available(inp.candidate_child, self.n)
        if ready >= self.n:
            return replace(self._decision("Stable", "Stable", f"{inp.candidate} is stable", mirrored=False,
                                          outcome="promote", reason=f"{why}; {ready}/{self.n} replicas available"),
                           weight=100)
        deadline_at = self.started + inp.deadline
        if inp.now >= deadline_at and not inp.spec.paused:
            return self._rollback("ProgressDeadlineExceeded",
                                  f"{inp.candidate}: {ready}/{self.n} replicas available after progressDeadline "
                                  f"{inp.spec.strategy.progress_deadline} while promoting")
        return self._decision("Progressing", "RollingOut",
                              f"promoting {inp.candidate}: {ready}/{self.n} replicas available", mirrored=False,
                              requeue_after=seconds_until(inp.now, deadline_at))

    def decide(self) -> Decision:
        inp, stable = self.inp, self.inp.stable
        if inp.action == "abort":
            return self._rollback("Aborted", f"{inp.candidate} in shadow: aborted by the abort action")
        if inp.observation is not None and self.step == SHADOWING:
            rolled_back = self._analyse(inp.observation)
            if rolled_back is not None:
                return rolled_back
        if inp.action == "promote" and self.step == SHADOWING:
            self.events.append(Event("Normal", "PromoteRequested",
                                     f"{inp.candidate}: promote action in shadow: skipping the rest of the rollout"))
            self.started, self.verdict = inp.now, None
            if self.shadow.then == "Canary":
                # canary's last stage (every step behind it): scale to N and promote, as its promote action
                return self._handed_over(self._canary_status(len(canary.steps(inp)) + 1))
            return self._promote("promote action")
        if self.step > SHADOWING:  # then: Promote, promoting
            return self._promote("shadow analysis passed" if self.verdict == "Pass" else "promote action")
        ready = inp.available(inp.candidate_child, self.n)
        if inp.spec.paused:
            # the mirror keeps running; the stage's clock starts again when unpaused (as a canary step's)
            paused = self._decision("Paused", "Paused", f"shadow of {inp.candidate} paused by spec.paused "
                                                        f"({self.share}); {ready}/{self.n} candidate replicas "
                                                        f"available")
            return replace(paused, started=None)
        deadline_at = self.started + inp.deadline
        if ready < self.n:
            if inp.now >= deadline_at:
                return self._rollback("ProgressDeadlineExceeded",
                                      f"{inp.candidate}: {ready}/{self.n} replicas available after progressDeadline "
                                      f"{inp.spec.strategy.progress_deadline} in shadow")
            return self._decision("Progressing", "RollingOut",
                                  f"shadow: waiting for {inp.candidate}'s pods ({ready}/{self.n} available); users "
                                  f"get {stable}'s answers only", requeue_after=seconds_until(inp.now, deadline_at))
        if self.verdict == "Pass":
            if self.shadow.then == "Promote":
                self.events.append(Event("Normal", "ShadowPassed",
                                         f"{inp.candidate}: shadow analysis passed{self.figures}; promoting"))
                self.started = inp.now
                return self._promote(f"shadow analysis passed{self.figures}")
            self.events.append(Event("Normal", "ShadowPassed",
                                     f"{inp.candidate}: shadow analysis passed{self.figures}; continuing as a canary "
                                     f"over {len(canary.steps(inp))} step(s), {stable} stops mirroring"))
            return self._handed_over(self._canary_status(1))
        if _insufficient(inp, self.started, self.verdict):
            return self._decision("Paused", "InsufficientData",
                                  f"shadow: no conclusive analysis within progressDeadline "
                                  f"{inp.spec.strategy.progress_deadline} (too few samples: shadow.minSamples "
                                  f"{self.shadow.min_samples} {self.counted}){self.unmeasured}; annotate "
                                  f"modelops.dev/action=promote or abort")
        if not _stable_mirrors(inp):
            return self._decision("Progressing", "RollingOut",
                                  f"shadow: {ready}/{self.n} {inp.candidate} pods available, waiting for {stable}'s "
                                  f"pods to mirror ({self.share})", requeue_after=seconds_until(inp.now, deadline_at))
        interval = parse_duration(inp.spec.strategy.analysis.interval)
        next_analysis = datetime.fromisoformat(self.last) + interval if self.last else inp.now
        return self._decision("Progressing", "RollingOut",
                              f"shadow: {self.share} from {stable} to {inp.candidate} ({ready}/{self.n} pods "
                              f"available, no user sees its answers); analysis {self.verdict or 'pending'}"
                              f"{self.unmeasured}",
                              requeue_after=seconds_until(inp.now, min(next_analysis, deadline_at)))

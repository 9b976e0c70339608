"""ModelDeployment decisions (Recreate strategy): a pure function of the object and what is observed.

The rollout's whole state is in ``status`` (``stable``, ``candidate``, ``stepStartedAt``,
``pinned``, ``history``, conditions), so a restarted operator continues from it. With the Recreate
strategy, a new version ``V`` gets its own Deployment and Service next to the stable one;
once its pods are all available, Service ``D`` switches to it and the old version's
children are deleted. The stable version is never scaled down before the candidate is
promoted; a candidate whose pods are not available by ``progressDeadline`` is rolled back
and not retried until the spec changes or ``modelops.dev/action: retry`` is set.

What the pods serve is pinned in ``status.pinned`` (uri, sha256, format, flags and the
ModelVersion's uid) from a Ready ModelVersion, and the pods are built from the pin: a
ModelVersion deleted while it serves leaves its pods as they are (``VersionMissing``), and
one re-created under the same name changes them only once it is Ready itself.

A child name that meets an object not controlled by this ModelDeployment is a
``NameConflict``: that object is never written or deleted, and what depends on it waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from modelops.api.common import DNS_1035_PATTERN, parse_duration
from modelops.api.modeldeployment import (
    HistoryEntry,
    ModelDeploymentSpec,
    ModelDeploymentStatus,
    PinnedArtifact,
    Retiring,
)
from modelops.conditions import Desired, find, first_outcome, merge, now_rfc3339, transitions
from modelops.operator.analysis.sources import Observation, SourceConfigError, source_kind
from modelops.operator.modeldeployment import children, routes
from modelops.operator.modeldeployment.children import Owner, ServedVersion, child_name, child_names
from modelops.operator.modeldeployment.observed import Child, Observed, Version
from modelops.operator.modeldeployment.strategies import abtest, canary, recreate, shadow
from modelops.operator.modeldeployment.strategies.step import Action, Decision, Inputs
from modelops.operator.plans import ACTION_ANNOTATION, Event, EventType, Plan, describe_validation_error

HISTORY_LIMIT = 10
# Conditions whose changes are announced as Events (with their messages, which carry the figures).
ANNOUNCED = ("Ready", "Progressing", "Degraded")
# Reasons that no amount of waiting fixes: the spec must change (or a retry be asked for).
STALLED_REASONS = frozenset({"InvalidSpec", "RolledBack", "NameConflict", "VersionMissing", "GatewayAPIMissing"})
WARNING_REASONS = frozenset(
    {"InvalidSpec", "VersionNotFound", "AnalysisFailed", "InsufficientData", "Aborted",
 "VersionNotReady", "RolledBack", "ProgressDeadlineExceeded",
     "ReplicasUnavailable", "NameConflict", "VersionMissing", "VersionReplaced", "ChildWriteFailed",
     "GatewayAPIMissing"}
)
# Ready reasons of a ModelVersion that is still being verified or validated: waiting for it is
# Normal (a first apply of a version and its deployment together), only a failed one is a Warning.
CHECKING_REASONS = frozenset({"Pending", "Reconciling", "Verifying", "ValidationPending", "Validating"})
# Progressing reasons of a rollback: the candidate is not tried again until spec or a retry changes.
ROLLBACK_REASONS = frozenset({"ProgressDeadlineExceeded", "AnalysisFailed", "Aborted", "StableWins", "NoDifference"})
# An A/B test the candidate lost ends with the stable version serving: no failure, not retried.
KEPT_REASONS = frozenset({"StableWins", "NoDifference"})
ACTIONS = frozenset({"promote", "abort", "retry"})
# Another application's object raises no event of ours: look again to see whether it has gone.
CONFLICT_RECHECK_S = 60.0
# Nothing tells the operator that a CRD was installed: router GatewayAPI without HTTPRoutes served
# looks again this often (discovery, one GET; see kube.Kube.served).
GATEWAY_RECHECK_S = 30.0


@dataclass(frozen=True)
class _Blocked:
    """Why the desired version cannot be rolled out now."""

    reason: str
    message: str
    checking: bool = False  # the version is still being verified or validated, not failed


def plan(
    obj: Mapping[str, Any], observed: Observed, *, image: str, now: datetime, observation: Observation | None = None
) -> Plan:
    """The next step; ``observation``: what the metrics source saw, fetched by sync because
    ``analysis_due`` said the rollout's analysis is due (consumed here, purely)."""
    meta = obj.get("metadata") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    owner = Owner(str(meta.get("name")), str(meta.get("namespace")), str(meta.get("uid")))
    generation = meta.get("generation")
    action = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
    bad_name = _invalid_name(owner.name)
    if bad_name:
        return _invalid(owner, status, observed, bad_name, generation=generation, now=now)
    try:
        spec = ModelDeploymentSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        return _invalid(owner, status, observed, describe_validation_error(exc), generation=generation, now=now)
    unsupported = _unsupported(spec)
    if unsupported:
        return _invalid(owner, status, observed, unsupported, generation=generation, now=now)
    return _Rollout(
        owner=owner, spec=spec, status=status, observed=observed, image=image, now=now, generation=generation,
        action=action, observation=observation,
    ).plan()


def analysis_due(obj: Mapping[str, Any], observed: Observed, *, image: str, now: datetime) -> AnalysisRequest | None:
    """What to observe, when the rollout in flight wants an analysis now (else None)."""
    meta = obj.get("metadata") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    try:
        spec = ModelDeploymentSpec.model_validate(obj.get("spec") or {})
    except ValidationError:
        return None
    stable, candidate = status.get("stable"), status.get("candidate")
    if _unsupported(spec) or spec.strategy.type not in ("Canary", "ABTest", "Shadow") or not stable or not candidate:
        return None
    rollout = _Rollout(
        owner=Owner(str(meta.get("name")), str(meta.get("namespace")), str(meta.get("uid"))), spec=spec,
        status=status, observed=observed, image=image, now=now, generation=meta.get("generation"),
        action=(meta.get("annotations") or {}).get(ACTION_ANNOTATION),
    )  # fmt: skip
    target, _version, blocked = rollout._target()
    due = {"ABTest": abtest.analysis_due, "Shadow": shadow.analysis_due}.get(spec.strategy.type, canary.analysis_due)
    if blocked is not None or target != candidate or not due(rollout._inputs(stable, candidate)):
        return None
    return AnalysisRequest(spec, stable, candidate, parse_duration(spec.strategy.analysis.interval))


@dataclass(frozen=True)
class AnalysisRequest:
    spec: ModelDeploymentSpec
    stable: str
    candidate: str
    interval: timedelta


def _invalid_name(name: str) -> str | None:
    """The CRD refuses such names (CEL); objects admitted before it still get a clear status."""
    if len(name) <= children.MAX_NAME and re.fullmatch(DNS_1035_PATTERN, name):
        return None
    return (
        f"metadata.name: {name!r} is not a DNS-1035 label (at most 63 characters: lower-case letters, digits "
        f"and '-', starting with a letter): it is the name of the ModelDeployment's Service; re-create it "
        f"under another name"
    )


def write_failed(obj: Mapping[str, Any], message: str, *, now: datetime) -> Plan:
    """The status to write when the API server refused a child: the rollout's state stays as it
    was (nothing it would claim was made), Ready says what was refused and why."""
    meta = obj.get("metadata") or {}
    status: Mapping[str, Any] = obj.get("status") or {}
    generation = meta.get("generation")
    conditions = merge(status.get("conditions"), [Desired("Ready", "False", "ChildWriteFailed", message)],
                       generation, now)
    new_status = _through_model({**status, "observedGeneration": generation, "conditions": conditions})
    events = _condition_events(status.get("conditions"), conditions)
    return Plan(status=new_status, events=tuple(events), retry=True)


def _unsupported(spec: ModelDeploymentSpec) -> str | None:
    if spec.router == "GatewayAPI" and spec.gateway is None:
        return "spec.gateway: required when spec.router is GatewayAPI"
    if spec.promotion == "Manual" and spec.version is None:
        return "spec.version: required when spec.promotion is Manual"
    if spec.strategy.type in ("Canary", "Shadow"):
        bad_steps = canary.invalid_steps(spec.strategy.canary) if spec.strategy.type == "Canary" else \
            shadow.invalid_spec(spec)
        if bad_steps:
            return bad_steps
        try:
            source_kind(spec)
        except SourceConfigError as exc:
            return f"{exc.field}: {exc}"
    return None


def _invalid(
    owner: Owner, status: Mapping[str, Any], observed: Observed, message: str, *, generation: int | None, now: datetime
) -> Plan:
    """An invalid spec changes nothing that serves: the children stay as they are."""
    stable = status.get("stable")
    serving = observed.deployments.get(child_name(owner.name, stable)) if stable else None
    conditions = merge(
        status.get("conditions"),
        [
            Desired("Ready", "False", "InvalidSpec", message),
            Desired("Progressing", "False", "InvalidSpec", "the spec must be fixed before anything rolls out"),
            Desired("Degraded", "Unknown", "InvalidSpec", _serving_note(stable, serving) or "nothing is serving"),
            Desired("Reconciling", "False", "InvalidSpec"),
            Desired("Stalled", "True", "InvalidSpec", message),
        ],
        generation,
        now,
    )
    new_status = _through_model({**status, "observedGeneration": generation, "conditions": conditions})
    return Plan(status=new_status, events=tuple(_condition_events(status.get("conditions"), conditions)))


def _gateway_missing() -> _Blocked:
    return _Blocked(
        "GatewayAPIMissing",
        f"spec.router: GatewayAPI needs the HTTPRoute kind, which this cluster does not serve: install the "
        f"CustomResourceDefinition {routes.CRD_NAME} (Gateway API, standard channel) and a Gateway "
        "implementation; no rollout step advances until it is served (Service D keeps selecting the stable "
        "version)",
    )


def _serving_note(stable: str | None, child: Child | None) -> str:
    if not stable:
        return ""
    if child is None:
        return f"{stable} has no Deployment"
    return f"{stable} keeps serving ({child.available}/{child.replicas} replicas available)"


class _Rollout:
    """One reconcile of a valid spec; attributes are the inputs, ``plan`` the decision."""

    def __init__(
        self,
        *,
        owner: Owner,
        spec: ModelDeploymentSpec,
        status: Mapping[str, Any],
        observed: Observed,
        image: str,
        now: datetime,
        generation: int | None,
        action: str | None = None,
        observation: Observation | None = None,
    ) -> None:
        self.owner, self.spec, self.status, self.observed = owner, spec, status, observed
        self.image, self.now, self.generation = image, now, generation
        self.retry = action == "retry"
        # A one-shot action is acted on by this reconcile and then removed (an unknown one is left).
        self.action: Action | None = "promote" if action == "promote" else "abort" if action == "abort" else None
        self.remove_action = action in ACTIONS
        self.observation = observation
        self.selected: dict[str, str] | None = None  # what promotion Auto picked, and why
        self.events: list[Event] = []
        self.retiring: list[dict[str, Any]] = [dict(r) for r in status.get("retiring") or () if _valid_retiring(r)]
        self.history: list[dict[str, Any]] = [dict(h) for h in status.get("history") or () if _valid_history(h)]
        self.pins: dict[str, ServedVersion] = _pins(status)

    # -- inputs -----------------------------------------------------------------------------

    def _deployment(self, version: str | None) -> Child | None:
        return self.observed.deployments.get(child_name(self.owner.name, version)) if version else None

    def _available(self, version: str) -> bool:
        child = self._deployment(version)
        return (
            child is not None
            and child.current
            and child.replicas == self.spec.replicas
            and child.available >= self.spec.replicas
        )

    def _target(self) -> tuple[str | None, Version | None, _Blocked | None]:
        name = self.spec.version
        stable: str | None = self.status.get("stable")
        if self.spec.promotion == "Auto":
            newest = self.observed.newest_ready(self.spec.model)
            if newest is not None:
                skipped = self.observed.not_ready(self.spec.model)
                why = f"the newest Ready ModelVersion of model {self.spec.model} (created {newest.created})"
                if skipped:
                    why += "; not Ready: " + ", ".join(f"{v.name} ({v.reason})" for v in skipped)
                self.selected = {"version": newest.name, "reason": why}
                return newest.name, newest, None
            if name is None and stable in self.pins:
                name = stable  # nothing newer: the pinned stable version stays, whatever became of it
            if name is None:
                checking = any(v.reason in CHECKING_REASONS for v in self.observed.not_ready(self.spec.model))
                missing = f"no Ready ModelVersion of model {self.spec.model} in {self.owner.namespace} yet"
                return None, None, _Blocked("VersionNotReady", missing, checking)
        assert name is not None  # Manual without a version was rejected as InvalidSpec
        version = self.observed.versions.get(name)
        pin = self.pins.get(name) if name == stable else None
        if version is None and pin is not None:
            return name, None, _Blocked(
                "VersionMissing",
                f"ModelVersion {name} (uid {pin.uid}) no longer exists; its pods keep serving the pinned artifact "
                f"{pin.uri} (sha256 {pin.sha256}) and are not changed until a Ready version replaces it",
            )
        if version is None:
            return name, None, _Blocked(
                "VersionNotFound", f"ModelVersion {name} not found in namespace {self.owner.namespace}"
            )
        if version.model != self.spec.model:
            return name, version, _Blocked(
                "InvalidSpec",
                f"spec.version: ModelVersion {name} is a version of model {version.model!r}, not {self.spec.model!r}",
            )
        if not version.ready:
            detail = f"{version.reason}: {version.message}" if version.message else version.reason
            if pin is not None and version.uid != pin.uid:
                return name, version, _Blocked(
                    "VersionReplaced",
                    f"ModelVersion {name} was re-created (uid {pin.uid} -> {version.uid}) and is not Ready "
                    f"({detail}); its pods keep serving the pinned artifact {pin.uri} (sha256 {pin.sha256})",
                )
            return name, version, _Blocked("VersionNotReady", f"ModelVersion {name} is not Ready ({detail})",
                                           version.reason in CHECKING_REASONS)
        return name, version, None

    def _name_conflict(self, stable: str | None, target: str | None) -> _Blocked | None:
        """The first child name, of the stable version, the target or Service D, that is someone else's."""
        wanted = [("Service", self.owner.name)]
        if self.spec.router == "GatewayAPI":
            wanted.append((routes.KIND, self.owner.name))
        for version in (stable, target):
            if version:
                wanted.extend(child_names(self.owner.name, version))
        for key in wanted:
            message = self.observed.conflicts.get(key)
            if message is not None:
                return _Blocked("NameConflict", message)
        return None

    def _rolled_back_before(self, target: str) -> bool:
        """A rollback of this version on this generation is final until the spec or a retry changes it."""
        progressing = find(self.status.get("conditions"), "Progressing")
        return (
            not self.retry
            and progressing is not None
            and progressing.get("reason") in ROLLBACK_REASONS
            and progressing.get("observedGeneration") == self.generation
            and bool(self.history)
            and self.history[-1].get("version") == target
            and self.history[-1].get("result") == "RolledBack"
        )

    def _rolled_back(self, target: str) -> _Blocked:
        last = self.history[-1]
        return _Blocked(
            "RolledBack",
            f"{target} was rolled back at {last.get('at')} ({last.get('reason')}); change the spec or "
            f"annotate {ACTION_ANNOTATION}=retry to try again",
        )

    def _deadline(self) -> timedelta:
        return parse_duration(self.spec.strategy.progress_deadline)

    # -- decision ---------------------------------------------------------------------------

    def _decision(self, stable: str | None, candidate: str) -> Decision:
        """The strategy's next step for the rollout in flight (a first rollout is Recreate's)."""
        inputs = self._inputs(stable, candidate)
        if stable is not None and self.spec.strategy.type == "Canary":
            return canary.decide(inputs)
        if stable is not None and self.spec.strategy.type == "ABTest":
            return abtest.decide(inputs)
        if stable is not None and self.spec.strategy.type == "Shadow":
            return shadow.decide(inputs)
        return recreate.decide(inputs)

    def _inputs(self, stable: str | None, candidate: str) -> Inputs:
        return Inputs(
            spec=self.spec, status=self.status, stable=stable, candidate=candidate,
            stable_child=self._deployment(stable), candidate_child=self._deployment(candidate), now=self.now,
            action=self.action, observation=self.observation, owner=self.owner,
        )  # fmt: skip

    def plan(self) -> Plan:
        stable: str | None = self.status.get("stable")
        target, _version, blocked = self._target()
        # Someone else's object under a child's name comes first: nothing is done to it, and a
        # version whose children cannot all be ours is not rolled out.
        conflict = self._name_conflict(stable, target if blocked is None and target != stable else None)
        if conflict is not None:
            blocked = conflict
        elif self.spec.router == "GatewayAPI" and not self.observed.httproutes_served:
            blocked = _gateway_missing()
        candidate: str | None = None
        decision: Decision | None = None
        scaled_to_zero: str | None = None  # a rolled-back candidate: its Deployment kept at 0 replicas
        requeue: float | None = None
        phase = "Stable" if stable else "Pending"
        progressing = Desired("Progressing", "False", "Stable", f"{stable} is stable" if stable else "")

        previous = find(self.status.get("conditions"), "Progressing") or {}
        if (target is not None and target != stable and blocked is None and self._rolled_back_before(target)
                and previous.get("reason") in KEPT_REASONS):
            phase = "Stable"
            progressing = Desired("Progressing", "False", str(previous.get("reason")), str(previous.get("message")))
        elif target is not None and target != stable and blocked is None and self._rolled_back_before(target):
            blocked = self._rolled_back(target)
            phase = "RolledBack" if stable else "Failed"
            progressing = Desired("Progressing", "False", str(previous.get("reason")), blocked.message)
            scaled_to_zero = target if stable and self.spec.strategy.type != "Recreate" else None
        elif blocked is not None:
            progressing = Desired("Progressing", "False", blocked.reason, blocked.message)
            if blocked.reason == "NameConflict":
                requeue = CONFLICT_RECHECK_S
            if blocked.reason == "GatewayAPIMissing":
                requeue = GATEWAY_RECHECK_S
        elif target != stable and self.spec.paused and self.status.get("candidate") != target:
            blocked = _Blocked("Paused", f"rollout of {target} is paused by spec.paused")
            phase = "Paused"
            progressing = Desired("Progressing", "False", "Paused", blocked.message)
        elif target is not None and target != stable:
            candidate = target
            if self.status.get("candidate") != candidate and stable is not None:
                # A rollout beside what serves is news; a first rollout is announced once, by Promoted.
                self.events.append(Event("Normal", "RolloutStarted", self._rollout_started_message(candidate, stable)))
            decision = self._decision(stable, candidate)
            self.events.extend(decision.events)
            phase, progressing = decision.phase, decision.progressing
            if decision.outcome == "promote":
                self._promote(candidate, stable, decision.reason)
                if stable is not None and self.spec.strategy.type != "Recreate":
                    self._retire(stable)
                stable, candidate = candidate, None
            elif decision.outcome == "keep_stable":
                self.events.append(Event("Normal", "StableKept", f"{candidate} removed: {decision.reason}"))
                self.history.append({"version": candidate, "result": "RolledBack", "at": now_rfc3339(self.now),
                                     "reason": decision.reason})
                candidate = None
            elif decision.outcome == "rollback":
                self._roll_back(candidate, stable, decision.reason)
                blocked = self._rolled_back(candidate)
                progressing = Desired("Progressing", "False", decision.progressing.reason, blocked.message)
                scaled_to_zero = candidate if stable and self.spec.strategy.type != "Recreate" else None
                candidate = None
            else:
                requeue = decision.requeue_after

        in_flight = decision if candidate is not None else None
        retiring = self._retiring(stable, candidate)
        if retiring:
            soonest = min(datetime.fromisoformat(r["deleteAfter"]) for r in retiring)
            wake = max((soonest - self.now).total_seconds(), 1.0)
            requeue = wake if requeue is None else min(requeue, wake)
        desired = self._desired_children(stable, candidate, in_flight, scaled_to_zero)
        desired_names = {(str(c["kind"]), str(c["metadata"]["name"])) for c in desired}
        keep = self._kept_without_spec(stable, candidate)
        keep |= {child_name(self.owner.name, r["version"]) for r in retiring}
        keep |= self._held_without_gateway(blocked)
        delete = tuple(
            sorted(
                (child.kind, child.name, child.uid)
                for child in [*self.observed.deployments.values(), *self.observed.services.values(),
                              *self.observed.routes.values()]
                if child.owned and (child.kind, child.name) not in desired_names and child.name not in keep
                and not self._renamed_still_needed(child, stable, candidate)
            )
        )
        conditions = merge(
            self.status.get("conditions"),
            [
                self._ready(stable, candidate, blocked, in_flight),
                progressing,
                self._degraded(stable),
                # kstatus (Flux): in progress while a version rolls out; stalled when only a change helps.
                Desired("Reconciling", progressing.status, progressing.reason, progressing.message),
                Desired("Stalled", "True" if blocked and blocked.reason in STALLED_REASONS else "False",
                        blocked.reason if blocked else "Stable", blocked.message if blocked else ""),
            ],
            self.generation,
            self.now,
        )
        serving = self._deployment(stable) if stable else self._deployment(candidate)
        analysis = self._analysis_fields(decision, candidate is not None or decision is not None)
        new_status: dict[str, Any] = {
            **{k: v for k, v in self.status.items() if k not in _OWNED_FIELDS},
            "observedGeneration": self.generation,
            "phase": phase,
            "stable": stable,
            "candidate": candidate,
            "weight": self._weight(stable, candidate, in_flight),
            "step": in_flight.step if in_flight is not None else None,
            "stepStartedAt": now_rfc3339(in_flight.started) if in_flight and in_flight.started else None,
            **analysis,
            "replicas": self.spec.replicas,
            "availableReplicas": serving.available if serving else 0,
            "endpoint": children.endpoint(self.owner, self.spec.model) if (stable or candidate) else None,
            "pinned": self._pinned(stable, candidate or scaled_to_zero),
            "retiring": retiring,
            "selected": self.selected,
            "abTest": decision.ab_test if decision is not None and decision.ab_test is not None
            else self.status.get("abTest"),
            "history": self.history[-HISTORY_LIMIT:],
            "conditions": conditions,
        }
        new_status = _through_model(new_status)
        waiting = frozenset({"VersionNotReady"}) if blocked is not None and blocked.checking else frozenset()
        events = [*self.events, *_condition_events(self.status.get("conditions"), conditions, normal=waiting)]
        return Plan(
            status=new_status,
            apply=tuple(desired),
            delete=delete,
            events=tuple(events),
            requeue_after=requeue,
            remove_action=self.remove_action,
        )

    def _weight(self, stable: str | None, candidate: str | None, decision: Decision | None) -> int | None:
        if not stable:
            return None
        if candidate is None:
            return 100 if stable else None
        return decision.weight if decision is not None and decision.both_serve else 0

    def _analysis_fields(self, decision: Decision | None, rolling: bool) -> dict[str, Any]:
        """The analysis state: carried while a rollout is in flight and when it ends (so its
        last figures stay readable), cleared when a new rollout starts."""
        if decision is None:
            if rolling:
                return {}
            return {k: self.status.get(k) for k in ("analysis", "stepVerdict", "failedAnalyses", "lastAnalysisAt")}
        return {
            "analysis": list(decision.analysis) if decision.analysis is not None else self.status.get("analysis"),
            "stepVerdict": decision.verdict,
            "failedAnalyses": decision.failed_analyses if decision.failed_analyses else None,
            "lastAnalysisAt": decision.last_analysis_at,
        }

    def _retire(self, old: str) -> None:
        delay = parse_duration(self.spec.strategy.scale_down_delay)
        if delay.total_seconds() > 0:
            self.retiring.append({"version": old, "deleteAfter": now_rfc3339(self.now + delay)})

    def _retiring(self, stable: str | None, candidate: str | None) -> list[dict[str, Any]]:
        """Versions replaced by a promotion, kept until their scaleDownDelay ends; a new rollout
        ends the delay early (Service D under a canary selects every serving pod)."""
        if candidate is not None:
            return []
        return [r for r in self.retiring
                if r["version"] != stable and datetime.fromisoformat(r["deleteAfter"]) > self.now]

    def _rollout_started_message(self, candidate: str, stable: str | None) -> str:
        beside = f" next to {stable}" if stable else ""
        how = self.spec.strategy.type if stable else "Recreate"
        picked = f"; promotion Auto picked it: {self.selected['reason']}" if self.selected else ""
        return f"rolling out {candidate} with {self.spec.replicas} replica(s){beside} ({how}){picked}"

    def _promote(self, candidate: str, stable: str | None, reason: str) -> None:
        replaced = f"; {stable} retires" if stable else ""
        self.events.append(Event("Normal", "Promoted", f"{candidate} promoted: {reason}{replaced}"))
        self.history.append({"version": candidate, "result": "Promoted", "at": now_rfc3339(self.now),
                             "reason": reason})

    def _roll_back(self, candidate: str, stable: str | None, reason: str) -> None:
        keeps = f"; {stable} keeps serving" if stable else "; nothing is serving"
        self.events.append(Event("Warning", "RolledBack", f"rolled back {reason}{keeps}"))
        self.history.append(
            {"version": candidate, "result": "RolledBack", "at": now_rfc3339(self.now), "reason": reason}
        )

    def _served(self, name: str) -> ServedVersion | None:
        """What version ``name``'s pods serve: its ModelVersion when that is Ready (verified),
        else what was pinned from it when it was; never an unverified spec."""
        version = self.observed.versions.get(name)
        if version is not None and version.ready and version.served is not None:
            return version.served
        return self.pins.get(name)

    def _pinned(self, stable: str | None, candidate: str | None) -> list[dict[str, Any]]:
        out = []
        for name in (stable, candidate):
            served = self._served(name) if name else None
            if served is None:
                continue
            before = self.pins.get(served.name)
            if before is not None and before.uid != served.uid:
                self.events.append(Event(
                    "Warning", "VersionReplaced",
                    f"ModelVersion {served.name} was re-created (uid {before.uid} -> {served.uid}) and is Ready: "
                    f"its pods now serve {served.uri} (sha256 {served.sha256}) instead of {before.uri} "
                    f"(sha256 {before.sha256})",
                ))
            out.append(_pin(served))
        return out

    def _desired_children(
        self, stable: str | None, candidate: str | None, decision: Decision | None, scaled_to_zero: str | None
    ) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        scales: list[tuple[str | None, int | None]] = [
            (stable, None),
            (candidate, decision.candidate_replicas if decision is not None else None),
            (scaled_to_zero, 0),
        ]
        for name, replicas in scales:
            served = self._served(name) if name else None
            if name and served is not None:
                mirror = self._mirror(name, stable, candidate, decision)
                out.append(children.deployment(self.owner, self.spec, served, self.image, replicas,
                                                mirror=mirror))
                if self._addressed(name, stable, candidate):
                    out.append(children.version_service(self.owner, self.spec.model, name))
        # Clients reach the stable version (and, during a canary, the candidate's pods too);
        # on a first rollout, the only version there is.
        front = stable or candidate
        if front:
            # (under router GatewayAPI HTTPRoute D splits the traffic: Service D stays on stable)
            both = decision is not None and decision.both_serve and stable is not None and (
                self.spec.router == "Replicas")
            main = children.main_service(self.owner, self.spec.model, front, both=both)
            current = self.observed.services.get(self.owner.name)
            if both and current is not None and children.VERSION_LABEL in ((current.body.get("spec") or {}).get(
                    "selector") or {}):
                main["spec"]["selector"][children.VERSION_LABEL] = None  # merge patch: drop the key
            out.append(main)
            route = self._route(front, stable, candidate, decision)
            if route is not None:
                out.append(route)
        # Someone else's object is never written, whatever else is done.
        return [c for c in out if (str(c["kind"]), str(c["metadata"]["name"])) not in self.observed.conflicts]

    def _addressed(self, name: str, stable: str | None, candidate: str | None) -> bool:
        """Whether version ``name`` gets its own Service ``D-V``: under router GatewayAPI always
        (HTTPRoute D's backendRefs name it), else while a rollout is in flight beside a stable
        (Shadow's mirror target, and each version's own address for testing it directly). At
        rest Service D selects exactly the stable's pods: a second Service would be one more
        write, ClusterIP and set of proxy rules per model for nothing."""
        if self.spec.router == "GatewayAPI":
            return True
        return stable is not None and candidate is not None and name in (stable, candidate)

    def _mirror(self, name: str, stable: str | None, candidate: str | None,
                decision: Decision | None) -> children.Mirror | None:
        """Shadow: the stable's flags that mirror to the candidate while the strategy says so."""
        if name != stable or candidate is None or decision is None or decision.mirror_percent is None:
            return None
        return children.shadow_mirror(self.owner, self.spec, candidate, decision.mirror_percent)

    def _route(self, front: str, stable: str | None, candidate: str | None,
               decision: Decision | None) -> dict[str, Any] | None:
        """Router GatewayAPI: HTTPRoute D, the candidate's exact weight beside stable (``routes``)."""
        gateway = self.spec.gateway
        if self.spec.router != "GatewayAPI" or gateway is None or not self.observed.httproutes_served:
            return None
        split = routes.Split(stable=front)
        if stable is not None and candidate is not None and decision is not None:
            # Shadow: users get stable only, the Gateway copies mirrorPercent of requests to the candidate
            mirror = decision.mirror_percent
            split = routes.Split(
                stable=stable, candidate=candidate if decision.both_serve else None,
                weight=decision.weight if decision.both_serve else 0,
                mirror=candidate if mirror is not None else None, mirror_percent=mirror,
            )
        return routes.http_route(self.owner, self.spec.model, gateway, split)

    def _held_without_gateway(self, blocked: _Blocked | None) -> set[str]:
        """GatewayAPIMissing stops a rollout in flight where it is: the candidate's children stay
        (not deleted), so it resumes once HTTPRoutes are served."""
        candidate = self.status.get("candidate")
        if blocked is None or blocked.reason != "GatewayAPIMissing" or not candidate:
            return set()
        return {child_name(self.owner.name, str(candidate))}

    def _renamed_still_needed(self, child: Child, stable: str | None, candidate: str | None) -> bool:
        """A child of a live version under a name of an older naming rule (an operator upgrade):
        it keeps serving beside its successor until that successor's pods are all available."""
        return bool(child.version) and child.version in (stable, candidate) and not self._available(child.version)

    def _kept_without_spec(self, stable: str | None, candidate: str | None) -> set[str]:
        """Children of a serving version whose ModelVersion is gone: left alone, never deleted."""
        return {child_name(self.owner.name, v) for v in (stable, candidate) if v and self._served(v) is None}

    def _ready(
        self, stable: str | None, candidate: str | None, blocked: _Blocked | None, decision: Decision | None
    ) -> Desired:
        serving = _serving_note(stable, self._deployment(stable))
        if blocked is not None:
            return Desired("Ready", "False", blocked.reason, f"{blocked.message}; {serving or 'nothing is serving'}")
        if candidate is not None and decision is not None and (decision.both_serve or decision.mirror_percent):
            return Desired("Ready", "False", decision.progressing.reason, f"{decision.progressing.message}; {serving}")
        if candidate is not None:
            child = self._deployment(candidate)
            figures = f"{child.available if child else 0}/{self.spec.replicas} replicas available"
            rest = f"; {serving}" if serving else ""
            return Desired("Ready", "False", "WaitingForPods", f"rolling out {candidate}: {figures}{rest}")
        child = self._deployment(stable)
        figures = f"{child.available if child else 0}/{self.spec.replicas} replicas of {stable} available"
        if stable and self._available(stable):
            return Desired("Ready", "True", "Available", figures)
        return Desired("Ready", "False", "WaitingForPods", figures)

    def _degraded(self, stable: str | None) -> Desired:
        if not stable:
            return Desired("Degraded", "False", "NoStableVersion", "no version has been promoted yet")
        child = self._deployment(stable)
        figures = f"{child.available if child else 0}/{self.spec.replicas} replicas of {stable} available"
        if self._available(stable):
            return Desired("Degraded", "False", "Available", figures)
        return Desired("Degraded", "True", "ReplicasUnavailable", figures)


# Status fields this reconciler computes; other fields (of later capabilities) are kept as they are.
_OWNED_FIELDS = frozenset(
    {"observedGeneration", "phase", "stable", "candidate", "weight", "step", "stepStartedAt", "replicas",
     "availableReplicas", "endpoint", "pinned", "history", "conditions", "analysis", "stepVerdict",
     "failedAnalyses", "lastAnalysisAt", "retiring", "selected", "abTest"}
)


def _through_model(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status as ModelDeploymentStatus writes it (so the CRD schema and the writer agree):
    the fields this reconciler owns validated and dumped by the model, the others kept as they
    are, empty lists and nulls left out."""
    owned = {k: v for k, v in status.items() if k in _OWNED_FIELDS and v is not None and v != []}
    dumped = ModelDeploymentStatus.model_validate(owned).model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_unset=True
    )
    others = {k: v for k, v in status.items() if k not in _OWNED_FIELDS and v is not None and v != []}
    return {**others, **dumped}


def _valid_history(entry: Any) -> bool:
    try:
        HistoryEntry.model_validate(entry)
    except ValidationError:
        return False
    return True


def _valid_retiring(entry: Any) -> bool:
    try:
        Retiring.model_validate(entry)
    except ValidationError:
        return False
    return True


def _pins(status: Mapping[str, Any]) -> dict[str, ServedVersion]:
    out: dict[str, ServedVersion] = {}
    for raw in status.get("pinned") or ():
        try:
            pin = PinnedArtifact.model_validate(raw)
        except ValidationError:
            continue  # not ours to trust: the ModelVersion, when Ready, pins it again
        out[pin.version] = ServedVersion(
            name=pin.version, uri=pin.uri, sha256=pin.sha256, format=pin.format, trusted=pin.trusted,
            allow_version_skew=pin.allow_version_skew, uid=pin.uid,
        )
    return out


def _pin(served: ServedVersion) -> dict[str, Any]:
    pin = PinnedArtifact(
        version=served.name, uid=served.uid, uri=served.uri, sha256=served.sha256, format=served.format,
        trusted=served.trusted, allow_version_skew=served.allow_version_skew,
    )
    return pin.model_dump(mode="json", by_alias=True)


def _condition_events(
    before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]], normal: frozenset[str] = frozenset()
) -> list[Event]:
    events = []
    for _old, new in transitions([dict(c) for c in before or ()], [dict(c) for c in after]):
        if new.get("type") not in ANNOUNCED:
            continue
        if new["type"] == "Degraded" and new.get("status") != "True" and (_old or {}).get("status") != "True":
            continue  # "not degraded" is news only when it was
        reason = new.get("reason")
        kind: EventType = "Warning" if reason in WARNING_REASONS and reason not in normal else "Normal"
        if kind == "Normal" and first_outcome(_old):
            continue  # a first rollout's "waiting for pods" is in the status (conditions.first_outcome)
        events.append(Event(kind, str(new.get("reason")), f"{new['type']}={new['status']}: {new.get('message', '')}"))
    return events

"""What the demo watches for: the loop's steps, read from the cluster's objects as kubectl would
see them, each announced once when it happens, and the list of the ones that did not.

``Story.observe`` is pure over a ``Snapshot`` (the objects listed through the API at one moment)
plus the live share of answers, so the same decisions are tested without a sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelops.conditions import find

GROUP_PATH = "/apis/modelops.dev/v1alpha1/namespaces/{ns}"
Say = Callable[[str, str], None]

# The steps the demo must show, in order; the exit status names the first one missing.
STEPS = (
    ("v1-serving", "v1 validated and serving"),
    ("drift-rising", "drift scores rising"),
    ("drift-detected", "DriftDetected"),
    ("retrain-job", "the retraining Job ran"),
    ("gate", "the gate passed"),
    ("v2-lineage", "ModelVersion v2 with lineage (v1, the Job)"),
    ("v2-validated", "v2 validated (metric and fairness figures)"),
    ("canary-steps", "canary steps with analysis"),
    ("v2-answers", "answers from v2 during the canary"),
    ("promoted", "v2 promoted and stable"),
)


@dataclass(frozen=True)
class Snapshot:
    versions: Sequence[Mapping[str, Any]]
    deployments: Sequence[Mapping[str, Any]]
    policies: Sequence[Mapping[str, Any]]
    jobs: Sequence[Mapping[str, Any]]


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _cond(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    return find(_status(obj).get("conditions"), type_) or {}


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _figures(validation: Mapping[str, Any] | None) -> str:
    parts = []
    for r in (validation or {}).get("results") or ():
        group = f"[{r['group']}]" if r.get("group") else ""
        value = "-" if r.get("value") is None else f"{r['value']:.3f}"
        bound = "≥" if r.get("bound") == "min" else "≤"
        limit = "" if r.get("limit") is None else f" {bound} {r['limit']:g}"
        parts.append(f"{r['metric']}{group}={value}{limit} {r['verdict']}")
    return ", ".join(parts) or "no figures"


@dataclass
class Story:
    """The steps seen so far; ``say(kind, text)`` announces each new thing once."""

    model: str
    deployment: str
    policy: str
    first_version: str
    say: Say
    done: dict[str, str] = field(default_factory=dict)  # step -> what showed it
    _seen: set[str] = field(default_factory=set)
    _first_score: float | None = None
    _last_shown: tuple[str, float, bool] | None = None
    v2: str | None = None
    job: str | None = None
    shares_seen: dict[str, float] = field(default_factory=dict)

    def _once(self, key: str, kind: str, text: str) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self.say(kind, text)

    def _step(self, step: str, evidence: str, *, latest: bool = False) -> None:
        """Mark ``step`` done; the summary shows its first evidence, or its latest."""
        if latest or step not in self.done:
            self.done[step] = evidence

    def missing(self) -> list[str]:
        return [title for step, title in STEPS if step not in self.done]

    def observe(self, snap: Snapshot, shares: Mapping[str, float]) -> None:
        for policy in snap.policies:
            if policy["metadata"]["name"] == self.policy:
                self._policy(policy)
        for job in snap.jobs:
            self._job(job)
        for version in snap.versions:
            self._version(version)
        for mdep in snap.deployments:
            if mdep["metadata"]["name"] == self.deployment:
                self._deployment(mdep, shares)

    def _policy(self, policy: Mapping[str, Any]) -> None:
        status = _status(policy)
        last = status.get("lastEvaluation") or {}
        if last.get("time"):
            scores = ", ".join(f"{f['name']} {f['method']} {f['score']:.3f} (threshold {f['threshold']:g})"
                               + (" DRIFTED" if f.get("drifted") else "") for f in (last.get("features") or ())[:3])
            streak = status.get("streak") or {}
            top = max((float(f.get("score", 0.0)) for f in last.get("features") or ()), default=None)
            shown = (str(last.get("verdict")), round(top or 0.0, 1), int(streak.get("drifted", 0)) > 0)
            if shown != self._last_shown:  # a new verdict, score or streak: said; the same again: not
                self._last_shown = shown
                self._once(f"eval:{last['time']}", "drift",
                           f"DriftPolicy {self.policy}: {last.get('verdict')} over {last.get('samples', 0)} rows "
                           f"from {last.get('replicas', 0)} pod(s); {scores or 'no scores yet'}; "
                           f"streak drifted={streak.get('drifted', 0)} clean={streak.get('clean', 0)}")
            if top is not None and last.get("verdict") != "Insufficient":
                if self._first_score is None:
                    self._first_score = top
                elif top > self._first_score + 0.05 and last.get("verdict") == "Drifted":
                    self._step("drift-rising", f"top score {self._first_score:.3f} -> {top:.3f}")
        detected = _cond(policy, "DriftDetected")
        if detected.get("status") == "True":
            self._once("detected", "detected", f"DriftDetected: {detected.get('message', '')}")
            self._step("drift-detected", str(detected.get("message", "")))
        retrain = status.get("lastRetrain") or {}
        if retrain.get("job"):
            self.job = str(retrain["job"])
        if retrain.get("result"):
            gate = retrain.get("gate") or {}
            figures = (f"{gate.get('metric')}: champion {_num(gate.get('champion'))}, "
                       f"challenger {_num(gate.get('challenger'))}" if gate else "no gate figures")
            self._once(f"retrain:{retrain.get('job')}:{retrain['result']}", "gate",
                       f"retrain {retrain.get('job')}: {retrain['result']} ({retrain.get('reason')}); {figures}; "
                       f"{retrain.get('message', '')}")
            if retrain["result"] == "Succeeded":
                self._step("gate", figures)

    def _job(self, job: Mapping[str, Any]) -> None:
        name = str(job["metadata"]["name"])
        labels = job["metadata"].get("labels") or {}
        if labels.get("modelops.dev/drift-policy") != self.policy:
            return  # validation Jobs are told about with their ModelVersion
        self._once(f"job:{name}", "job", f"Job {name} created by DriftPolicy {self.policy} (modelops train)")
        status = _status(job)
        if status.get("succeeded"):
            self._once(f"job-done:{name}", "job", f"Job {name} succeeded")
            self._step("retrain-job", name)
        elif status.get("failed"):
            self._once(f"job-failed:{name}", "error", f"Job {name} failed")

    def _version(self, mv: Mapping[str, Any]) -> None:
        name = str(mv["metadata"]["name"])
        spec = mv.get("spec") or {}
        if spec.get("model") != self.model:
            return
        ready = _cond(mv, "Ready")
        validated = _cond(mv, "Validated")
        if name != self.first_version and self.v2 is None:
            self.v2 = name
        if name != self.first_version:
            lineage = spec.get("lineage") or {}
            shown = ", ".join(f"{k}={v}" for k, v in sorted(lineage.items()) if not isinstance(v, dict | list))
            self._once(f"mv:{name}", "version", f"ModelVersion {name} created; lineage: {shown or 'none'}")
            if lineage.get("parent") == self.first_version and lineage.get("job"):
                self._step("v2-lineage", shown)
        if validated.get("status") in ("True", "False"):
            figures = _figures(_status(mv).get("validation"))
            self._once(f"validated:{name}:{validated['status']}", "validation",
                       f"{name} {validated.get('reason')}: {figures}")
            if validated.get("status") == "True" and name != self.first_version:
                self._step("v2-validated", figures)
        elif name != self.first_version and ready.get("status") == "True" and not spec.get("validation"):
            self._once(f"unvalidated:{name}", "error", f"{name} is Ready without validation (its spec declares none)")
        if ready.get("status") == "True":
            self._once(f"ready:{name}", "version", f"ModelVersion {name} Ready ({ready.get('reason')})")

    def _deployment(self, mdep: Mapping[str, Any], shares: Mapping[str, float]) -> None:
        status = _status(mdep)
        stable, candidate = status.get("stable"), status.get("candidate")
        ready = _cond(mdep, "Ready")
        if stable == self.first_version and ready.get("status") == "True":
            self._once("v1-serving", "info", f"ModelDeployment {self.deployment}: {ready.get('message', '')}")
            self._step("v1-serving", str(ready.get("message", "")))
        if candidate and candidate != self.first_version:
            analysis = "; ".join(
                f"{a['metric']}={'-' if a.get('value') is None else format(a['value'], '.3g')}"
                f"/{'-' if a.get('threshold') is None else format(a['threshold'], '.3g')} {a['verdict']}"
                f" (n={a.get('samples', 0)})" for a in status.get("analysis") or ())
            share = ", ".join(f"{v} {s:.0%}" for v, s in shares.items())
            key = f"canary:{candidate}:{status.get('step')}:{status.get('weight')}:{status.get('lastAnalysisAt')}"
            self._once(key, "canary",
                       f"canary {candidate}: step {status.get('step')} weight {status.get('weight')}% "
                       f"phase {status.get('phase')} verdict {status.get('stepVerdict') or '-'}; "
                       f"analysis: {analysis or 'none yet'}; live answers: {share or 'none'}")
            if status.get("analysis"):
                self._step("canary-steps", f"step {status.get('step')}: {analysis}",
                           latest=status.get("stepVerdict") == "Pass")
            if shares.get(candidate, 0.0) > self.shares_seen.get(candidate, 0.0):
                self.shares_seen[candidate] = shares[candidate]
                self._step("v2-answers", f"{candidate} answered up to {shares[candidate]:.0%} of live requests",
                           latest=True)
        if self.v2 is not None and stable == self.v2 and status.get("phase") == "Stable":
            self._once("promoted", "promoted",
                       f"{self.v2} promoted: stable, {ready.get('message', '')}")
            self._step("promoted", str(ready.get("message", "")))
        for entry in status.get("history") or ():
            self._once(f"history:{entry.get('version')}:{entry.get('at')}", "canary",
                       f"history: {entry.get('version')} {entry.get('result')} at {entry.get('at')} "
                       f"{entry.get('reason', '')}")

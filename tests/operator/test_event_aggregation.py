"""Events as Kubernetes practice posts them: one per notable transition, repeats counted up.

A first rollout planned 3 + 3 Events (the decision and each condition's transition) and its
version 2 ("Verified" twice): 8 of the 18 API writes that converging one ModelDeployment took
(benchmarks/operator). Collapsed, the same reasons are posted, each once per reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.operator.events import Recorder, collapse
from modelops.operator.kube import EVENTS
from modelops.operator.modeldeployment.observed import Observed
from modelops.operator.modeldeployment.reconcile import plan
from modelops.operator.modelversion.reconcile import Outcome, conclude
from modelops.operator.plans import Event

from .objects import SHA_A, UID, deployment, model_deployment, model_version, service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SUMMARY = {"sha256": SHA_A, "sizeBytes": 1234, "files": 3, "features": ["a", "b"], "task": "classification"}


def test_a_first_rollout_posts_one_event_when_it_is_served_with_the_conditions_it_changed() -> None:
    v1 = model_version("churn-v1")
    started = plan(model_deployment(), Observed.from_objects(UID, versions=[v1]), image="img:1", now=NOW)
    # its first conditions (waiting for pods, rolling out) are its first status, not news
    assert started.events == ()
    assert started.status["phase"] == "Progressing"

    running = {**model_deployment(), "status": dict(started.status)}
    observed = Observed.from_objects(UID, versions=[v1],
                                     deployments=[deployment("churn-churn-v1", "churn-v1", available=2)],
                                     services=[service("churn", "churn-v1")])
    promoted = plan(running, observed, image="img:1", now=NOW)
    (posted,) = collapse(promoted.events)
    assert (posted.type, posted.reason) == ("Normal", "Promoted")
    assert posted.message.startswith("churn-v1 promoted: ")
    assert "2/2 replicas available" in posted.message
    assert "Ready=True: " in posted.message
    assert "Progressing=False: churn-v1 is stable" in posted.message


def test_a_first_verdict_that_is_good_news_is_in_the_status_not_an_event() -> None:
    verified = conclude(model_version("churn-v1", ready=None), Outcome(summary=SUMMARY), NOW)
    assert verified.events == ()
    assert {c["type"]: c["reason"] for c in verified.status["conditions"]}["Ready"] == "Verified"
    failed = conclude(model_version("churn-v1", ready=None), Outcome(reason="DigestMismatch", message="differs"), NOW)
    assert {(e.type, e.reason) for e in failed.events} == {("Warning", "DigestMismatch")}  # bad news always


def test_a_version_verified_after_failing_says_verified_once_with_its_figures_once() -> None:
    failed = conclude(model_version("churn-v1", ready=None), Outcome(reason="DigestMismatch", message="differs"), NOW)
    verified = conclude(model_version("churn-v1", status=dict(failed.status)), Outcome(summary=SUMMARY), NOW)
    assert [e.reason for e in verified.events] == ["Verified", "Verified"]
    (posted,) = collapse(verified.events)
    assert posted.reason == "Verified"
    assert posted.message.startswith("ArtifactVerified=True, Ready=True: manifest sha256 ")
    assert posted.message.count("features") == 1


def test_warnings_and_separate_decisions_keep_their_own_events() -> None:
    events = (
        Event("Normal", "AnalysisPass", "step 1: analysis Pass: errorRate Pass"),
        Event("Normal", "StepPassed", "step 1 passed: weight 50"),
        Event("Warning", "Degraded", "Degraded=True: 1/2 replicas of churn-v1 available"),
        Event("Normal", "RollingOut", "Progressing=True: rolling out churn-v2"),
    )
    posted = collapse(events)
    assert [(e.type, e.reason) for e in posted] == [
        ("Normal", "AnalysisPass"), ("Normal", "StepPassed"), ("Warning", "Degraded")]
    assert posted[0].message.endswith("; Progressing=True: rolling out churn-v2")
    # Transitions alone (nothing decided) are each still an Event.
    alone = (Event("Normal", "ValidationPassed", "Validated=True: roc_auc=0.91"),
             Event("Normal", "Ready", "Ready=True: ok"))
    assert collapse(alone) == list(alone)


class _Api:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, Mapping[str, Any]]] = []
        self.gone: set[str] = set()

    async def create(self, resource: Any, namespace: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        assert resource is EVENTS
        self.created.append(dict(body))
        return dict(body)

    async def patch(self, resource: Any, namespace: str, name: str, patch: Mapping[str, Any],
                    subresource: str | None = None) -> dict[str, Any] | None:
        if name in self.gone:
            return None
        self.patched.append((name, patch))
        return {}


async def test_a_repeated_event_counts_up_the_one_posted_instead_of_posting_another() -> None:
    api, recorder = _Api(), Recorder(EVENTS)
    obj = model_deployment()
    failed = Event("Warning", "ArtifactUnreachable", "Ready=False: connection refused; retrying with backoff")
    await recorder.post(api, obj, [failed], NOW)
    await recorder.post(api, obj, [failed], NOW + timedelta(seconds=30))
    await recorder.post(api, obj, [failed], NOW + timedelta(seconds=90))
    assert len(api.created) == 1
    name = api.created[0]["metadata"]["name"]
    assert api.patched == [(name, {"count": 2, "lastTimestamp": "2026-11-27T12:00:30Z"}),
                           (name, {"count": 3, "lastTimestamp": "2026-11-27T12:01:30Z"})]
    # Another message, another object, or a repeat long after: Events of their own.
    await recorder.post(api, obj, [Event("Warning", "ArtifactUnreachable", "Ready=False: timed out")], NOW)
    other = model_deployment()
    other["metadata"] = {**other["metadata"], "name": "fraud", "uid": "uid-fraud"}
    await recorder.post(api, other, [failed], NOW)
    await recorder.post(api, obj, [failed], NOW + timedelta(minutes=30))
    assert len(api.created) == 4
    # The Event was deleted (expired): posted afresh.
    api.gone.add(api.created[-1]["metadata"]["name"])
    await recorder.post(api, obj, [failed], NOW + timedelta(minutes=31))
    assert len(api.created) == 5


async def test_the_recorder_remembers_a_bounded_number_of_events() -> None:
    api, recorder = _Api(), Recorder(EVENTS, entries=2)
    obj = model_deployment()
    for reason in ("A", "B", "C"):
        await recorder.post(api, obj, [Event("Warning", reason, "m")], NOW)
    await recorder.post(api, obj, [Event("Warning", "A", "m")], NOW)  # forgotten: posted again
    await recorder.post(api, obj, [Event("Warning", "C", "m")], NOW)  # remembered: counted up
    assert [e["reason"] for e in api.created] == ["A", "B", "C", "A"]
    assert len(api.patched) == 1

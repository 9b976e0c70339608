"""A canary for real in the sandbox: real serving processes, the real operator, real kubectl.

v1 serves with 3 replicas behind Service ``clf``. v2 (as good: another sample, another fit) is
applied under ``Canary`` with steps 20% then 50%, while clients send requests through the
Service's ClusterIP and post every answer's true labels as feedback: kubectl's watch shows the
effective weight move (1 of 4 ready pods = 25%, then 2 of 5 = 40%: the Replicas router gives
the candidate ``max(1, round(3 * w / 100))`` pods beside the stable 3) and v2 promoted, and while
each weight held the share of answers naming v2 in ``model_version`` matches it. Then v3, fitted
to shuffled labels, is rolled back on accuracy, with the figures in status, in the condition
and in a Warning Event. Nothing is left running afterwards.

One module fixture plays the whole story (one to two minutes on two busy cores: seven serving
pods start) and records what was seen; the tests assert on the record, after the sandbox stopped.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import yaml

from modelops.operator.modeldeployment.strategies.canary import candidate_replicas
from modelops.sandbox.api import Api
from modelops.sandbox.cluster import Sandbox, kubectl_path
from tests.e2e.canary_models import Packaged, package
from tests.e2e.canary_traffic import Answer, Clients, Row, Share, Watch, segments, share_of
from tests.e2e.checks import condition, processes_under
from tests.operator.harness import model_version

# The whole story runs in the first test's setup (the module fixture): pods take seconds each to
# start on two busy cores.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(540)]
T = TypeVar("T")

MODEL = DEPLOYMENT = "clf"
REPLICAS = 3  # 20% -> 1 of 4 ready pods, 50% -> 2 of 5: two distinct effective weights, at most 6 processes
STEPS = (20, 50)
MAX_ACCURACY_DROP = 0.05
MIN_SAMPLES = 10  # per version and interval: requests (error rate, latency) and rows (accuracy, PSI)
RATE = 16.0  # requests per second, 8 rows each: ~12 candidate requests per 3 s interval at 25%
Z = 4.0  # binomial standard deviations allowed between a share of answers and the weight
MARGIN_S = 1.0  # answers this close to a change of the watched state are left out of the shares


def effective(weight: int) -> int:
    """The candidate's share of ready pods at a step of ``weight`` (what status.weight reports)."""
    candidate = candidate_replicas(REPLICAS, weight)
    return round(100 * candidate / (REPLICAS + candidate))


def deployment(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": DEPLOYMENT, "namespace": "default"},
        "spec": {
            "model": MODEL, "version": version, "replicas": REPLICAS, "router": "Replicas",
            "strategy": {
                "type": "Canary",
                "canary": {"steps": [{"weight": w, "pause": "6s"} for w in STEPS]},
                "analysis": {
                    "interval": "3s", "minSamples": MIN_SAMPLES, "failureLimit": 1,
                    "maxAccuracyDrop": MAX_ACCURACY_DROP,
                    # Every pod, the operator and these clients share two cores: a new pod's first
                    # answers are slow for reasons that are not the model's. Latency is not under test.
                    "maxLatencyRatio": 20,
                },
                "progressDeadline": "2m", "scaleDownDelay": "2s",
            },
        },
    }  # fmt: skip


@dataclass
class Record:
    """What the story saw."""

    versions: dict[str, Packaged]
    watch_lines: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    watch_until: float = 0.0
    errors: list[str] = field(default_factory=list)
    misattributed: list[str] = field(default_factory=list)
    feedback_rows: dict[str, int] = field(default_factory=dict)
    feedback_correct: dict[str, int] = field(default_factory=dict)
    promoted: dict[str, Any] = field(default_factory=dict)  # the mdep once v2 is stable
    promoted_table: str = ""  # `kubectl get mdep clf` then
    rolled_back: dict[str, Any] = field(default_factory=dict)  # the mdep once v3 is rolled back
    events: list[dict[str, Any]] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)  # seconds since the sandbox started


MDEP = f"/apis/modelops.dev/v1alpha1/namespaces/default/modeldeployments/{DEPLOYMENT}"
POLL_S = 0.5  # through the API, in this process: a kubectl per look would cost a process each


def _poll(check: Callable[[], T | None], what: str, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_S)


def _wait_phase(sandbox: Sandbox, api: Api, phase: str, *, stable: str, last: str,
                timeout: float) -> dict[str, Any]:
    """The ModelDeployment once in ``phase`` with ``stable`` and ``last`` the latest history entry's
    version (status.candidate is cleared by a promotion and by a rollback alike)."""
    seen: list[dict[str, Any]] = [{}]

    def reached() -> dict[str, Any] | None:
        mdep: dict[str, Any] = api.call("GET", MDEP)
        status = seen[0] = mdep.get("status") or {}
        history = status.get("history") or [{}]
        if status.get("phase") == "RolledBack" and phase != "RolledBack":
            raise AssertionError(f"rolled back: {json.dumps(status)}")  # at once, not at the timeout
        if (status.get("phase"), status.get("stable"), history[-1].get("version")) == (phase, stable, last):
            return mdep
        return None

    try:
        return _poll(reached, f"{DEPLOYMENT} {phase} with stable {stable}", timeout)
    except AssertionError as exc:
        log = (sandbox.workdir / "operator.log").read_text(errors="replace").splitlines()[-30:]
        raise AssertionError(f"{exc}; status {json.dumps(seen[0])}\noperator.log (last lines):\n"
                             + "\n".join(log)) from None


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Record:
    root = tmp_path_factory.mktemp("canary")
    versions = {
        "clf-v1": package("clf-v1", root / "artifacts", seed=1),
        "clf-v2": package("clf-v2", root / "artifacts", seed=2),  # as good: another sample, another fit
        "clf-v3": package("clf-v3", root / "artifacts", seed=3, shuffle_labels=True),
    }
    rec = Record(versions)
    workdir = root / "sandbox"
    with pytest.MonkeyPatch.context() as env:
        # One OpenMP thread per pod (they inherit this environment): all share two cores.
        env.setenv("OMP_NUM_THREADS", "1")
        _play(Sandbox(workdir=workdir), rec)
    rec.left_running = processes_under(workdir)
    return rec


def _play(sandbox: Sandbox, rec: Record) -> None:
    """v1 stable; v2 under Canary to promotion; v3 rolled back: with traffic and a kubectl watch."""
    clients: Clients | None = None
    watch: Watch | None = None
    try:
        started = time.monotonic()
        sandbox.start()
        api = Api.from_kubeconfig(sandbox.kubeconfig)
        docs = [model_version(v.name, v.uri, v.sha256, model=MODEL) for v in rec.versions.values()]
        sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([*docs, deployment("clf-v1")]))
        _wait_phase(sandbox, api, "Stable", stable="clf-v1", last="clf-v1", timeout=150)
        rec.durations["v1 stable"] = time.monotonic() - started

        service = api.call("GET", f"/api/v1/namespaces/default/services/{DEPLOYMENT}")
        clients = Clients(service["spec"]["clusterIP"], int(service["spec"]["ports"][0]["port"]), MODEL, rate=RATE)
        clients.start()
        watch = Watch([kubectl_path(), "--kubeconfig", str(sandbox.kubeconfig), "get", "mdep", DEPLOYMENT])
        tally = clients.tally
        _poll(lambda: tally.answers or tally.errors, "a first answer through the ClusterIP", 30)

        sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deployment("clf-v2")))
        rec.promoted = _wait_phase(sandbox, api, "Stable", stable="clf-v2", last="clf-v2", timeout=200)
        rec.promoted_table = sandbox.kubectl("get", "mdep", DEPLOYMENT)
        rec.durations["v2 promoted"] = time.monotonic() - started

        sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deployment("clf-v3")))
        rec.rolled_back = _wait_phase(sandbox, api, "RolledBack", stable="clf-v2", last="clf-v3", timeout=150)
        rec.durations["v3 rolled back"] = time.monotonic() - started

        def rolled_back_event() -> list[dict[str, Any]] | None:
            events: list[dict[str, Any]] = json.loads(sandbox.kubectl("get", "events", "-o", "json"))["items"]
            return events if any(e.get("reason") == "RolledBack" for e in events) else None

        rec.events = _poll(rolled_back_event, "the RolledBack Event", 30)
    finally:
        if clients is not None:
            clients.stop()
            with clients.tally.lock:
                rec.answers = list(clients.tally.answers)
                rec.errors = list(clients.tally.errors)
                rec.misattributed = list(clients.tally.misattributed)
                rec.feedback_rows = dict(clients.tally.feedback_rows)
                rec.feedback_correct = dict(clients.tally.feedback_correct)
        rec.watch_until = time.monotonic()
        if watch is not None:
            watch.stop()
            rec.rows, rec.watch_lines = watch.snapshot(), list(watch.lines)
        sandbox.stop()


def _cells(table: str) -> dict[str, str]:
    """The first row of a kubectl table, cut at its header's column starts (cells may be empty)."""
    header, row = table.splitlines()[:2]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    ends = [*starts[1:], max(len(row), len(header)) + 1]
    return {header[s:e].strip(): row[s:e].strip() for s, e in zip(starts, ends, strict=True)}


def _shares(record: Record) -> list[Share]:
    """Per stretch of the canaries' steps (0 < weight < 100), the candidate's share of answers."""
    return [share_of(s, record.answers) for s in segments(record.rows, record.watch_until, MARGIN_S)
            if s.phase == "Progressing" and s.candidate and 0 < s.weight < 100]


def test_the_versions_are_what_the_story_needs(record: Record) -> None:
    assert record.versions["clf-v1"].holdout_accuracy == 1.0
    assert record.versions["clf-v2"].holdout_accuracy == 1.0
    assert record.versions["clf-v3"].holdout_accuracy < 0.75  # fitted to noise


def test_kubectl_watch_shows_the_weight_move_through_the_steps_and_v2_promoted(record: Record) -> None:
    printed = "\n".join(record.watch_lines)
    v2 = [r.weight for r in record.rows if r.candidate == "clf-v2" and r.phase == "Progressing"]
    weights = [w for w in v2 if w is not None]
    assert len(weights) == len(v2), printed
    wanted = [effective(w) for w in STEPS]  # [25, 40]
    assert [w for w in dict.fromkeys(weights) if w in wanted] == wanted, printed
    # It never drops: the candidate's pods of one step serve while it scales up to the next.
    assert weights == sorted(weights), printed
    # Each step held its own weight (its first analysis after a scale-up cannot pass it on).
    held = {(r.step, r.weight) for r in record.rows if r.candidate == "clf-v2" and r.phase == "Progressing"}
    assert {(str(k), effective(w)) for k, w in enumerate(STEPS)} <= held, printed
    promoted = next(i for i, r in enumerate(record.rows) if r.stable == "clf-v2")
    assert record.rows[promoted].phase == "Stable"
    assert record.rows[promoted].weight == 100
    assert all(r.stable == "clf-v1" for r in record.rows[:promoted])

    # The default columns, as `kubectl get mdep` prints them once v2 is promoted.
    cells = _cells(record.promoted_table)
    assert (cells["STABLE"], cells["CANDIDATE"], cells["WEIGHT"], cells["PHASE"], cells["READY"]) == (
        "clf-v2", "", "100", "Stable", "True")
    status = record.promoted["status"]
    assert [(h["version"], h["result"]) for h in status["history"]][-1] == ("clf-v2", "Promoted")
    assert "all 2 steps passed" in status["history"][-1]["reason"]


def test_the_share_of_answers_matches_the_effective_weight(record: Record) -> None:
    shares = _shares(record)
    described = "; ".join(str(s) for s in shares)
    # shown by pytest -rP: the figures of a run
    print(f"shares: {described}; seconds since the sandbox started: {record.durations}; "
          f"{len(record.answers)} answers, {len(record.errors)} errors {record.errors[:3]}; watched: "
          + ", ".join(f"{r.candidate or r.stable} {r.weight}% {r.phase} {r.step}" for r in record.rows))
    for share in shares:
        if share.answers >= 20:
            assert share.within(Z), f"{share} is more than {Z} sigma from the weight ({described})"
    for weight in (effective(w) for w in STEPS):
        held = [s for s in shares if s.segment.candidate == "clf-v2" and s.segment.weight == weight]
        assert sum(s.answers for s in held) >= 40, f"too few answers while v2 held {weight}%: {described}"


def test_every_answer_and_feedback_call_through_the_cluster_ip_succeeded(record: Record) -> None:
    # No pod answered with an error status and every feedback call was answered (forwarded to the
    # pod that predicted where needed). A pod leaves the proxy before its SIGTERM (v1 retired, v3
    # scaled to 0), so no connection should drop either (none did in our runs); a connection the
    # proxy handed over just as the pod stopped listening could, as on a cluster.
    refused = [e for e in record.errors if e.startswith("infer:") and "HTTP" not in e]
    assert [e for e in record.errors if e not in refused] == []
    assert len(refused) <= 0.01 * len(record.answers), refused


def test_feedback_is_scored_once_for_the_version_that_answered(record: Record) -> None:
    assert record.misattributed == []
    answered = {v: sum(a.version == v for a in record.answers) for v in record.versions}
    assert all(answered.values()), answered  # every version answered some requests
    assert sum(record.feedback_rows.values()) == 8 * len(record.answers)
    # The true-label models are right on every row; the one fitted to noise is not.
    for version in ("clf-v1", "clf-v2"):
        assert record.feedback_correct[version] == record.feedback_rows[version]
    assert record.feedback_correct["clf-v3"] < 0.8 * record.feedback_rows["clf-v3"]


FIGURES = re.compile(r"accuracy stable (?P<stable>[\d.]+) \((?P<stable_correct>\d+)/(?P<stable_rows>\d+)\), "
                     r"candidate (?P<candidate>[\d.]+) \((?P<candidate_correct>\d+)/(?P<candidate_rows>\d+)\): "
                     r"drop (?P<drop>[\d.]+) \(limit (?P<limit>[\d.]+)\)")


def test_v3_is_rolled_back_on_accuracy_with_its_figures_and_a_warning_event(record: Record) -> None:
    mdep = record.rolled_back
    status = mdep["status"]
    assert (status["phase"], status["stable"], status.get("candidate")) == ("RolledBack", "clf-v2", None)
    assert [(h["version"], h["result"]) for h in status["history"]][-1] == ("clf-v3", "RolledBack")

    accuracy = next(a for a in status["analysis"] if a["metric"] == "accuracyDrop")
    assert accuracy["verdict"] == "Fail"
    assert accuracy["threshold"] == MAX_ACCURACY_DROP
    assert accuracy["samples"] >= MIN_SAMPLES
    assert accuracy["value"] > MAX_ACCURACY_DROP

    progressing = condition(mdep, "Progressing")
    print(f"v3 rolled back: {progressing.get('message')}; status.analysis: {status['analysis']}")  # pytest -rP
    assert (progressing["status"], progressing["reason"]) == ("False", "AnalysisFailed")
    assert "accuracyDrop failed" in progressing["message"]
    figures = FIGURES.search(progressing["message"])
    assert figures is not None, progressing["message"]
    stable, candidate = float(figures["stable"]), float(figures["candidate"])
    assert figures["stable_correct"] == figures["stable_rows"]  # v2 is right on every labelled row
    assert candidate == pytest.approx(int(figures["candidate_correct"]) / int(figures["candidate_rows"]), abs=1e-4)
    assert accuracy["samples"] == min(int(figures["stable_rows"]), int(figures["candidate_rows"]))
    assert float(figures["drop"]) == pytest.approx(stable - candidate, abs=1e-4)
    assert float(figures["drop"]) == pytest.approx(accuracy["value"], abs=1e-4)
    assert float(figures["limit"]) == MAX_ACCURACY_DROP

    warnings = [e for e in record.events if e.get("type") == "Warning" and e["involvedObject"]["name"] == DEPLOYMENT
                and e.get("reason") == "RolledBack"]
    assert warnings, [(e.get("type"), e.get("reason"), e.get("message")) for e in record.events]
    assert any("accuracyDrop" in e["message"] and figures[0] in e["message"] for e in warnings), warnings


def test_nothing_is_left_running(record: Record) -> None:
    assert record.left_running == []

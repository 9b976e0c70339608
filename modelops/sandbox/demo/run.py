"""The demo's sequence (see the package docstring); each phase a function, the story in story.py."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from modelops.sandbox.api import Api, ApiError
from modelops.sandbox.cluster import Sandbox, SandboxError, wait_for_http
from modelops.sandbox.demo import dataset
from modelops.sandbox.demo.display import Display
from modelops.sandbox.demo.manifests import FAST, NORMAL, as_file_uri, documents
from modelops.sandbox.demo.story import STEPS, Snapshot, Story
from modelops.sandbox.demo.traffic import Traffic
from modelops.sandbox.kubelet import MODULE_COMMAND

MODEL, DEPLOYMENT, POLICY, FIRST = "churn", "churn", "churn-drift", "churn-v1"
FAST_ENV = "MODELOPS_DEMO_FAST"
# Looking at the cluster costs this process CPU its ServiceProxy (the ClusterIPs) needs too.
POLL_S = 2.0


class DemoFailedError(Exception):
    """A step of the story did not happen in time."""


def run_demo(workdir: Path, timeout: float = 300.0, *, keep: bool = False, fast: bool = False) -> int:
    fast = fast or os.environ.get(FAST_ENV, "") not in ("", "0")
    pace = FAST if fast else NORMAL
    show = Display()
    started = time.monotonic()
    # Every pod, Job and this process share two cores: OpenMP's spinning worker threads (one per
    # core in each trainer) fighting each other made a one-second fit take a minute and a half.
    # The sandbox's processes inherit this environment.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # The replicas of a deployment sign feedback ids with one shared key, so feedback posted to the
    # Service is scored by whichever replica made the prediction (on a cluster: a Secret in the pods'
    # environment; here the pods inherit this process's environment).
    os.environ.setdefault("MODELOPS_FEEDBACK_KEY", secrets.token_hex(32))
    show.section("1. Generate a churn dataset, train and package v1 (modelops train)")
    data = dataset.write(workdir / "data")
    artifacts = workdir / "artifacts"
    v1 = _train_v1(data, artifacts, workdir / "train-v1.json")
    if v1.get("result") != "Succeeded":
        show.event("error", f"training v1 failed: {v1.get('reason')} {v1.get('message')}")
        return 1
    artifact_uri, sha256 = str(v1["artifact"]["uri"]), str(v1["artifact"]["sha256"])
    roc_auc = float(v1.get("metrics", {}).get("challenger", {}).get("roc_auc", float("nan")))
    show.event("info", f"{FIRST}: {artifact_uri} sha256 {sha256} roc_auc {roc_auc:.3f} on its holdout")
    show.event("info", f"validation holdout {data.holdout}; "
                       f"retraining dataset (read by the trainer Job) {data.retrain}")

    show.section("2. Start the sandbox: API emulator, CRDs, operator, local kubelet")
    sandbox = Sandbox(workdir=workdir)
    traffic: Traffic | None = None
    code = 1
    try:  # the sandbox is stopped whatever happens, and its processes die with this one anyway
        try:
            sandbox.start()
            show.event("info", f"watch it: kubectl --kubeconfig {sandbox.kubeconfig} get mdep,mv,dp,jobs,pods")
            show.section("3. kubectl apply -f manifests/examples/ (URIs pointed at the demo's files, times compressed)")
            docs = documents(artifact_uri=artifact_uri, sha256=sha256, holdout_uri=as_file_uri(data.holdout),
                             retrain_uri=as_file_uri(data.retrain), output_uri=as_file_uri(artifacts, directory=True),
                             pace=pace)
            show.text(sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs)).strip())
            api = Api.from_kubeconfig(sandbox.kubeconfig)
            story = Story(MODEL, DEPLOYMENT, POLICY, FIRST, show.event)
            deadline = started + timeout

            show.section("4. v1: verified, validated (metric and fairness), served")
            watch(sandbox, api, story, None, deadline=deadline, until=lambda: "v1-serving" in story.done)
            service = api.call("GET", f"/api/v1/namespaces/{sandbox.namespace}/services/{DEPLOYMENT}")
            base = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
            wait_for_http(f"{base}/v2/health/ready", 30, f"Service {DEPLOYMENT}")
            traffic = Traffic(base, MODEL, rate=pace.request_rate, max_seconds=timeout + 60)
            traffic.start()
            show.event("traffic", f"{pace.request_rate:g} requests/s of 4 customers each to Service {DEPLOYMENT} at "
                                  f"{base} (its ClusterIP), true labels sent as feedback 1 s later")

            show.section("5. Reference traffic: the DriftPolicy sees no drift")
            watch(sandbox, api, story, traffic, deadline=deadline,
                  until=lambda: _clean_evaluation(api, sandbox.namespace))
            traffic.population = dataset.SHIFTED
            show.section(f"6. Shift the input distribution: tenure {dataset.REFERENCE.tenure_low:g}-"
                         f"{dataset.REFERENCE.tenure_high:g} -> {dataset.SHIFTED.tenure_low:g}-"
                         f"{dataset.SHIFTED.tenure_high:g} months")
            watch(sandbox, api, story, traffic, deadline=deadline, until=lambda: "promoted" in story.done)
            show.section("7. Summary")
            summary(show, story, traffic, time.monotonic() - started)
            traffic.stop()
            traffic = None
            history(show, sandbox)
            show.text(sandbox.kubectl("get", "mdep,mv,dp,jobs,pods", "-o", "wide").rstrip())
            if story.missing():
                raise DemoFailedError("v2 is stable but steps are missing: " + "; ".join(story.missing()))
            show.section(f"demo finished in {time.monotonic() - started:.0f}s: {story.v2} is stable, "
                         "every step happened")
            code = 0
        except (SandboxError, DemoFailedError, ApiError) as exc:
            show.event("error", f"demo failed after {time.monotonic() - started:.0f}s: {exc}")
            _failure_details(show, workdir, locals().get("story"))
            code = 1
        if keep and sandbox.processes:
            keep_running(show, sandbox)
        return code
    finally:
        if traffic is not None:
            traffic.stop()
        sandbox.stop()


def _train_v1(data: dataset.DemoData, artifacts: Path, result: Path) -> dict[str, Any]:
    """v1 made as the retraining Job makes v2: `modelops train`, its result JSON in a file."""
    command = [*MODULE_COMMAND, "train", "--dataset-uri", as_file_uri(data.train), "--target", dataset.TARGET,
               "--params", '{"max_iter": 60}', "--output-uri", as_file_uri(artifacts, directory=True),
               "--name", FIRST, "--created-at", "2026-01-01T00:00:00Z", f"--termination-log={result}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if not result.exists():
        return {"result": "Failed", "reason": f"exit {done.returncode}", "message": done.stderr[-2000:]}
    answer: dict[str, Any] = json.loads(result.read_text())
    return answer


def snapshot(api: Api, namespace: str) -> Snapshot:
    group = f"/apis/modelops.dev/v1alpha1/namespaces/{namespace}"
    def items(path: str) -> list[dict[str, Any]]:
        return list(api.call("GET", path).get("items") or [])
    return Snapshot(versions=items(f"{group}/modelversions"), deployments=items(f"{group}/modeldeployments"),
                    policies=items(f"{group}/driftpolicies"), jobs=items(f"/apis/batch/v1/namespaces/{namespace}/jobs"))


def watch(sandbox: Sandbox, api: Api, story: Story, traffic: Traffic | None, *, deadline: float,
          until: Callable[[], bool]) -> None:
    """Observe every POLL_S seconds until ``until()`` or the deadline (DemoFailedError naming what is missing)."""
    while True:
        sandbox.check_alive()
        story.observe(snapshot(api, sandbox.namespace), traffic.tally.live_share() if traffic else {})
        if until():
            return
        if time.monotonic() > deadline:
            missing = story.missing()
            raise DemoFailedError(f"timed out; missing steps: {'; '.join(missing) or 'none'}")
        time.sleep(POLL_S)


def _clean_evaluation(api: Api, namespace: str) -> bool:
    policy = api.call("GET", f"/apis/modelops.dev/v1alpha1/namespaces/{namespace}/driftpolicies/{POLICY}")
    last = (policy.get("status") or {}).get("lastEvaluation") or {}
    return bool(last.get("verdict") == "Clean")


def summary(show: Display, story: Story, traffic: Traffic, seconds: float) -> None:
    table = Table(title=f"modelops sandbox demo: the loop in {seconds:.0f}s")
    table.add_column("STEP", no_wrap=True)
    table.add_column("SEEN", no_wrap=True)
    table.add_column("EVIDENCE", overflow="fold")
    for step, title in STEPS:
        table.add_row(title, "yes" if step in story.done else "NO", story.done.get(step, ""))
    show.table(table)
    with traffic.tally.lock:
        answered = dict(traffic.tally.answered)
        errors, sent = traffic.tally.errors, traffic.tally.feedback_sent
    show.event("traffic", f"answers per version: {answered}; errors {errors}; feedback posts {sent}")


def history(show: Display, sandbox: Sandbox) -> None:
    command = [*MODULE_COMMAND, "history", MODEL, "--kubeconfig", str(sandbox.kubeconfig)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    show.text(f"$ modelops history {MODEL}")
    show.text((done.stdout + done.stderr).rstrip())


def keep_running(show: Display, sandbox: Sandbox) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    show.event("info", f"--keep: the sandbox keeps running; export KUBECONFIG={sandbox.kubeconfig}; Ctrl-C stops it")
    while not stop.wait(0.5):
        sandbox.check_alive()


def _failure_details(show: Display, workdir: Path, story: Story | None) -> None:
    if story is not None:
        for step, title in STEPS:
            show.text(f"  {'done   ' if step in story.done else 'MISSING'} {title}")
    for log_path in sorted(workdir.glob("pods/*/*/*.log")):
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        show.text(f"{log_path} (last lines):\n" + "\n".join(tail))
    operator_log = workdir / "operator.log"
    if operator_log.exists():
        show.text(f"{operator_log} (last lines):\n" + "\n".join(operator_log.read_text(errors="replace")
                                                                  .splitlines()[-25:]))
    show.text(f"operator and emulator logs: {workdir}/operator.log, {workdir}/emulator.log")

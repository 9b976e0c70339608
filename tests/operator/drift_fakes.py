"""What a DriftPolicy test plays besides the operator: serving replicas answering ``/drift``
and ``/metrics`` on their own loopback address (real HTTP, counts from the real sketch over
the stable version's profile), their Pod objects, and the Job controller."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import numpy.typing as npt
import orjson

from modelops.drift.profile import Profile
from modelops.emulator.testing import EmulatorHandle
from modelops.serving.sketch import DriftSketch
from modelops.training.gate import GateVerdict
from modelops.training.result import TrainResult, encode

from .harness import MV_API

_hosts = itertools.count(101)


class FakeReplica:
    """One serving pod's HTTP side: a real DriftSketch over ``profile``, and feedback figures."""

    def __init__(self, profile: Profile, *, model: str = "churn", version: str = "churn-v1") -> None:
        self.sketch = DriftSketch(profile, model=model, version=version, bucket_seconds=60, window_seconds=3600)
        self.model, self.version = model, version
        self.accuracy: float | None = None
        self.labelled = 0
        self.failing = False
        self.scrapes = 0
        self.summed_asked: list[str] = []  # each /drift request's summed value ("false" if absent)
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                replica.scrapes += 1
                if replica.failing:
                    self._send(503, b'{"error": "not ready"}')
                elif url.path == f"/v2/models/{replica.model}/drift":
                    query = parse_qs(url.query)
                    window = query.get("window", ["1h"])[0]
                    seconds = {"h": 3600, "m": 60, "s": 1}[window[-1]] * float(window[:-1])
                    summed = query.get("summed", ["false"])[0]
                    replica.summed_asked.append(summed)
                    if summed not in ("true", "false"):  # as the serving runtime answers
                        self._send(400, b'{"error": "summed must be true or false"}')
                        return
                    counts = replica.sketch.window(seconds, summed=summed == "true")
                    self._send(200, orjson.dumps(counts.to_json()))
                elif url.path == "/metrics":
                    self._send(200, replica.exposition().encode(), "text/plain; version=0.0.4")
                else:
                    self._send(404, b"{}")

            def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.ip = f"127.0.0.{next(_hosts) % 200 + 20}"
        self.server = ThreadingHTTPServer((self.ip, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def send(self, rows: npt.NDArray[Any]) -> None:
        """Count ``rows`` as served traffic (predictions: class 1 when the first column > 0)."""
        self.sketch.add(rows, (rows[:, 0] > 0).astype(int))

    def exposition(self) -> str:
        labels = f'model="{self.model}",version="{self.version}"'
        accuracy = "NaN" if self.accuracy is None else repr(self.accuracy)
        return (
            "# TYPE modelops_feedback_rows counter\n"
            f"modelops_feedback_rows_total{{{labels}}} {float(self.labelled)}\n"
            "# TYPE modelops_rolling_accuracy gauge\n"
            f"modelops_rolling_accuracy{{{labels}}} {accuracy}\n"
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reference_rows(n: int, shift: float = 0.0, seed: int = 0) -> npt.NDArray[np.float64]:
    """Rows like make_artifact's reference data (3 standard normal features), ``a`` shifted."""
    rows = np.random.default_rng(seed).normal(size=(n, 3))
    rows[:, 0] += shift
    return rows


def load_profile(artifact_uri: str) -> Profile:
    return Profile.from_bytes((Path(artifact_uri.removeprefix("file://")) / "profile.json").read_bytes())


def add_pod(k8s: EmulatorHandle, replica: FakeReplica, name: str, *, deployment: str = "churn",
            version: str = "churn-v1", ready: bool = True) -> None:
    """The Pod object of a serving replica, Running and Ready at the replica's address."""
    k8s.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {
            "app.kubernetes.io/instance": deployment, "modelops.dev/version": version,
            "app.kubernetes.io/managed-by": "modelops"}},
        "spec": {"containers": [{"name": "serve", "image": "modelops",
                                 "ports": [{"name": "http", "containerPort": replica.port}]}]},
    })
    k8s.patch_status("v1", "Pod", name, {
        "phase": "Running", "podIP": replica.ip,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    })


@contextmanager
def replicas(k8s: EmulatorHandle, profile: Profile, n: int, *, version: str = "churn-v1"
             ) -> Iterator[list[FakeReplica]]:
    made = [FakeReplica(profile, version=version) for _ in range(n)]
    try:
        for i, replica in enumerate(made):
            add_pod(k8s, replica, f"churn-{version}-pod{i}", version=version)
        yield made
    finally:
        for replica in made:
            replica.stop()


def drift_policy(name: str = "churn-drift", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"targetRef": {"name": "churn"}, "interval": "1s", "window": "1h", "minSamples": 100,
                            "consecutive": 2, **spec}
    return {"apiVersion": MV_API, "kind": "DriftPolicy", "metadata": {"name": name, "namespace": "default"},
            "spec": body}


TRAINER = {"datasetUri": "file:///data/churn.csv", "target": "churned",
           "estimator": "sklearn.linear_model.LogisticRegression", "outputUri": "file:///models/churn/"}


def retrain(cooldown: str = "1h", **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "cooldown": cooldown, "trainer": dict(TRAINER),
            "gate": {"metric": "accuracy", "minImprovement": 0.0}, **extra}


def trainer_result(outcome: str, *, uri: str = "", sha256: str = "", champion: float = 0.7,
                   challenger: float = 0.9, name: str = "churn-drift-retrain-1") -> bytes:
    """A termination message as `modelops train` writes it."""
    passed = challenger - champion >= 0.0
    gate = GateVerdict(metric="accuracy", higher_is_better=True, champion=champion, challenger=challenger,
                       min_improvement=0.0, passed=passed, reason="Improved" if passed else "NotImproved",
                       message=f"accuracy {challenger} vs champion {champion}")
    if outcome == "Failed":
        return encode(TrainResult(result="Failed", reason="DatasetUnreadable", message="no such file"))
    return encode(TrainResult(
        result="Succeeded" if passed else "GateFailed", reason="Improved" if passed else "NotImproved",
        message=gate.message, model_version=name, artifact_uri=uri, artifact_sha256=sha256,
        dataset_uri="file:///data/churn.csv", dataset_sha256="a" * 64, dataset_rows=500,
        challenger_metrics={"accuracy": challenger}, champion_metrics={"accuracy": champion}, gate=gate,
    ))


def play_job(k8s: EmulatorHandle, name: str, message: bytes, *, succeeded: bool = True) -> None:
    """What the Job controller and kubelet report once the trainer's pod has terminated."""
    job = k8s.get("batch/v1", "Job", name)
    uid = job["metadata"]["uid"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pod = f"{name}-x7k2p"
    k8s.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": pod, "namespace": "default",
        "labels": {"controller-uid": uid, "batch.kubernetes.io/controller-uid": uid, "job-name": name}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "trainer", "image": "modelops"}]}})
    k8s.patch_status("v1", "Pod", pod, {
        "phase": "Succeeded" if succeeded else "Failed",
        "containerStatuses": [{"name": "trainer", "ready": False, "restartCount": 0, "image": "modelops",
                               "imageID": "", "state": {"terminated": {
                                   "exitCode": 0 if succeeded else 1, "reason": "Completed" if succeeded else "Error",
                                   "message": message.decode(), "finishedAt": now}}}],
    })
    condition = {"type": "Complete" if succeeded else "Failed", "status": "True", "lastTransitionTime": now}
    if not succeeded:
        condition["reason"] = "BackoffLimitExceeded"
    k8s.patch_status("batch/v1", "Job", name, {
        "startTime": now, "conditions": [condition],
        **({"succeeded": 1, "completionTime": now} if succeeded else {"failed": 1}),
    })


def events_of(k8s: EmulatorHandle, name: str = "churn-drift") -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in k8s.list("v1", "Event", "default")
            if e["involvedObject"].get("name") == name and e["involvedObject"].get("kind") == "DriftPolicy"]

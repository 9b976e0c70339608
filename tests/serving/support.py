"""Real servers for the serving tests: artifacts of real small models, ``modelops serve``
as a subprocess or uvicorn in a thread, on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import uvicorn
from fastapi import FastAPI
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelops.artifact import build_artifact

ROOT = Path(__file__).resolve().parents[2]


def path_with_only_tests(tmp: Path) -> Path:
    """A sys.path entry holding only ``tests`` (for unpickling the tests' own model class
    in a server process) and not the repository root, whose operator/ folder would shadow
    the standard library."""
    entry = tmp / "pythonpath"
    entry.mkdir(exist_ok=True)
    link = entry / "tests"
    if not link.exists():
        link.symlink_to(ROOT / "tests", target_is_directory=True)
    return entry
N_FEATURES = 8  # breast cancer's first features: enough for every case, fast to fit


def cancer_data() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], list[str]]:
    x, y = load_breast_cancer(return_X_y=True)
    names = [f"f{i}" for i in range(N_FEATURES)]
    return np.asarray(x[:, :N_FEATURES], dtype=np.float64), np.asarray(y), names


def build_lr(out: Path) -> str:
    """Scaler + logistic regression on 8 numeric features, fitted on an array."""
    x, y, names = cancer_data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    return build_artifact(model, x, names, y, out)


def build_shuffled_lr(out: Path) -> str:
    """Another model of build_lr's features, fitted on shuffled labels: answers that differ."""
    x, y, names = cancer_data()
    shuffled = np.random.default_rng(0).permutation(y)
    return build_artifact(LogisticRegression(max_iter=1000).fit(x, shuffled), x, names, shuffled, out)


def churn_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n).astype(float),
            "charges": rng.normal(70, 20, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    y = ((frame.tenure < 24) & (frame.plan == "basic")).astype(int).to_numpy()
    return frame, y


def build_churn(out: Path) -> str:
    """Two numeric features and a categorical one, fitted on a DataFrame."""
    frame, y = churn_frame()
    encode = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(frame, y)
    return build_artifact(model, frame, ["tenure", "charges", "plan"], y, out)


def build_slow(out: Path, delay: float) -> str:
    from tests.serving.slow_model import SlowClassifier

    x, y, names = cancer_data()
    model = SlowClassifier(delay).fit(x, y)
    return build_artifact(model, x, names, y, out, format="joblib")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ProcessServer:
    """``modelops serve`` in a subprocess (what the pods run); ``url`` once listening."""

    def __init__(
        self,
        model_dir: Path,
        *args: str,
        python_path: Path | None = None,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
    ) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        env.pop("PYTHONPATH", None)
        if python_path is not None:
            env["PYTHONPATH"] = str(python_path)
        # The console script, run outside the repository: the repository root on sys.path
        # would let the top-level operator/ folder shadow the standard library's operator.
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("modelops")), "serve", "--model-dir", str(model_dir),
             "--host", host, "--port", "0", *args],
            cwd=model_dir.parent, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        self._listening = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._listening.wait(60) or not self.url:
            self.stop()
            raise AssertionError("server did not start listening:\n" + "\n".join(self.log))

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            found = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if found:
                self.url = found.group(1)
                self._listening.set()
        self._listening.set()  # the process ended: stop waiting (url stays empty)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + "\n".join(self.log))
            try:
                return httpx.get(f"{self.url}/v2/health/ready").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout, "the server to be ready")

    def wait_log(self, pattern: str, timeout: float = 60.0) -> str:
        found: list[str] = []

        def seen() -> bool:
            found.extend(line for line in list(self.log) if re.search(pattern, line))
            return bool(found)

        wait_until(seen, timeout, f"a log line matching {pattern!r}")
        return found[0]

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()


@contextmanager
def process_server(
    model_dir: Path,
    *args: str,
    ready: bool = True,
    python_path: Path | None = None,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Iterator[ProcessServer]:
    server = ProcessServer(model_dir, *args, python_path=python_path, host=host, env=env)
    try:
        if ready:
            server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def thread_server(app: FastAPI) -> Iterator[str]:
    """uvicorn serving ``app`` in a thread of this process; yields the base url."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name`` in Prometheus text, by their sorted labels."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def infer_body(rows: npt.NDArray[Any], names: list[str], **extra: Any) -> dict[str, Any]:
    """One FP64 tensor per feature, as KServe v2 clients send."""
    return {
        "inputs": [
            {"name": n, "shape": [len(rows)], "datatype": "FP64", "data": rows[:, j].tolist()}
            for j, n in enumerate(names)
        ],
        **extra,
    }

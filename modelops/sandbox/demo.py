"""`modelops sandbox demo`: the examples applied to the sandbox, converging in front of you.

Trains a small model, packages it as a verified artifact, starts the sandbox, applies
``manifests/examples/`` (pointing the example ModelVersion at the artifact just built),
shows the resources' status until the ModelDeployment is Ready, then sends a real
inference request through the Service's ClusterIP. Exits 0 only when the model answered.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

from modelops.conditions import find
from modelops.sandbox.cluster import ROOT, Sandbox, SandboxError, wait_for_http

EXAMPLES = ROOT / "manifests" / "examples"
console = Console(stderr=True, width=140)


def build_demo_artifact(out: Path) -> str:
    """A LogisticRegression on the breast-cancer data set, packaged; returns its digest."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelops.artifact.build import build_artifact

    data = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    x, y = np.asarray(data.data), np.asarray(data.target)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    return build_artifact(model, x, names, y, out, target_name="diagnosis")


def example_documents(artifact_uri: str, sha256: str) -> list[dict[str, Any]]:
    """The example manifests, with every ModelVersion pointed at the demo artifact."""
    docs: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if doc.get("kind") == "ModelVersion":
                doc["spec"]["artifact"] = {"uri": artifact_uri, "sha256": sha256, "format": "skops"}
                doc["spec"].pop("validation", None)  # validation jobs come with a later capability
            docs.append(doc)
    return docs


def _ready(obj: dict[str, Any]) -> str:
    cond = find(obj.get("status", {}).get("conditions"), "Ready")
    return "-" if cond is None else f"{cond.get('status')} ({cond.get('reason')})"


def status_table(sandbox: Sandbox) -> tuple[Table, list[dict[str, Any]]]:
    raw = json.loads(sandbox.kubectl("get", "mv,mdep,dp", "-o", "json"))
    table = Table(title="modelops sandbox: kubectl get mv,mdep,dp", expand=False)
    for column in ("KIND", "NAME", "READY", "DETAIL"):
        table.add_column(column, no_wrap=True)
    table.add_column("MESSAGE", overflow="fold")
    for obj in raw.get("items", []):
        status = obj.get("status", {})
        if obj["kind"] == "ModelVersion":
            detail = f"sha256 {obj['spec']['artifact']['sha256'][:12]}…"
        elif obj["kind"] == "ModelDeployment":
            detail = f"stable={status.get('stable')} candidate={status.get('candidate')} phase={status.get('phase')}"
        else:
            detail = f"target={obj['spec']['targetRef']['name']}"
        ready = find(status.get("conditions"), "Ready") or {}
        table.add_row(obj["kind"], obj["metadata"]["name"], _ready(obj), detail, ready.get("message", ""))
    return table, list(raw.get("items", []))


def run_demo(workdir: Path, timeout: float = 180.0) -> int:
    artifact = workdir / "artifacts" / "demo-v1"
    console.rule("[bold]1. Train and package a model")
    sha256 = build_demo_artifact(artifact)
    console.print(f"artifact {artifact}  sha256 [bold]{sha256}[/]  (= sha256sum {artifact}/manifest.json)")

    console.rule("[bold]2. Start the sandbox: API emulator, CRDs, operator, local kubelet")
    sandbox = Sandbox(workdir=workdir)
    try:
        sandbox.start()
        console.print(f"API at {sandbox.api_url}; try: kubectl --kubeconfig {sandbox.kubeconfig} get mdep")

        console.rule("[bold]3. kubectl apply the examples")
        docs = example_documents(artifact.resolve().as_uri(), sha256)
        console.print(sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs)).strip())

        console.rule("[bold]4. Watch the status converge")
        deployment = next(d for d in docs if d["kind"] == "ModelDeployment")
        name = deployment["metadata"]["name"]
        deadline = time.monotonic() + timeout
        with Live(console=console, refresh_per_second=2) as live:
            while True:
                sandbox.check_alive()
                table, items = status_table(sandbox)
                live.update(table)
                mdep = next((o for o in items if o["metadata"]["name"] == name
                             and o["kind"] == "ModelDeployment"), {})
                if _ready(mdep).startswith("True"):
                    break
                if time.monotonic() > deadline:
                    raise SandboxError(f"ModelDeployment {name} not Ready after {timeout:.0f}s: {_ready(mdep)}")
                time.sleep(1.0)

        console.rule("[bold]5. Ask the model through its Service's ClusterIP")
        service = json.loads(sandbox.kubectl("get", "service", name, "-o", "json"))
        base = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
        console.print(f"Service {name}: {base}  (kubectl get svc {name})")
        # The sandbox's proxy opens the address within a second of the Service and its pods.
        wait_for_http(f"{base}/v2/health/ready", 30, f"Service {name}")
        answer = infer_one(base, deployment["spec"]["model"], artifact)
        console.print_json(data=answer)
        console.print(sandbox.kubectl("get", "mv,mdep", "-o", "wide").rstrip())
        console.print(sandbox.kubectl("get", "pods,svc", "-o", "wide").rstrip(), markup=False)
        console.rule("[bold green]demo finished: the model is served and verified")
        return 0
    except SandboxError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        for log_path in sorted(workdir.glob("pods/*/*/*.log")):
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            console.print(f"[bold]{log_path}[/] (last lines):", *tail, sep="\n", markup=False)
        console.print(f"operator and emulator logs: {workdir}/operator.log, {workdir}/emulator.log")
        return 1
    finally:
        sandbox.stop()


def infer_one(base_url: str, model: str, artifact: Path) -> dict[str, Any]:
    """One Open Inference Protocol v2 request with a row of the reference data."""
    from sklearn.datasets import load_breast_cancer

    row = [float(v) for v in load_breast_cancer().data[0]]
    body = {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
    request = urllib.request.Request(
        f"{base_url}/v2/models/{model}/infer",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    result["x-request-id"] = response.headers.get("x-request-id")
    return result

"""The optional link to an MLflow run (extra ``modelops[mlflow]``): what made an artifact is
recorded in the run (params, metrics, the artifact's digest and uri as tags), and the run in
the artifact's lineage (``experimentRun``: run id, tracking URI, experiment id), which the
operator copies into the ModelVersion's status and ``modelops history`` shows.

Two ways in: ``modelops package --mlflow-run RUN_ID`` attaches to a run someone already has
(``attach``); the trainer, when ``MLFLOW_TRACKING_URI`` is set, starts one of its own
(``start``, in ``MLFLOW_EXPERIMENT_NAME`` or ``modelops``). Only MLflow's tracking client is
used (``mlflow-skinny`` is enough: no server, a file store or any tracking URI).

Without MLflow installed, asking for either fails with ``ExperimentLinkError`` naming the
extra; nothing else in modelops imports MLflow.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXTRA = "pip install 'modelops[mlflow]'"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "modelops"
DIGEST_TAG = "modelops.artifact.sha256"
URI_TAG = "modelops.artifact.uri"
# MLflow's limits: param values up to 6000 characters; keys of letters, digits, _ - . space / :.
MAX_PARAM_VALUE = 6000
_KEY = re.compile(r"[^A-Za-z0-9_\-. /:]")


class ExperimentLinkError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RunLink:
    run_id: str
    tracking_uri: str
    experiment_id: str
    owned: bool = False  # started here: ended here too

    def lineage(self) -> dict[str, str]:
        """``experimentRun`` of metadata.json's lineage."""
        return {"runId": self.run_id, "trackingUri": self.tracking_uri, "experimentId": self.experiment_id}


def wanted() -> bool:
    """The trainer records in MLflow only when a tracking URI is set."""
    return bool(os.environ.get(TRACKING_URI_ENV))


def _client(tracking_uri: str | None) -> tuple[Any, str]:
    try:
        from mlflow.tracking import MlflowClient, get_tracking_uri
    except ImportError as exc:
        raise ExperimentLinkError(
            "MlflowMissing", f"recording in an MLflow run needs MLflow, which is not installed ({exc}): {EXTRA}"
        ) from None
    uri = tracking_uri or get_tracking_uri()
    try:
        return MlflowClient(tracking_uri=uri), str(uri)
    except Exception as exc:  # MLflow raises its own types for a bad or refused tracking URI
        raise ExperimentLinkError("TrackingUnavailable", f"MLflow tracking URI {uri}: {exc}") from None


def attach(run_id: str, tracking_uri: str | None = None) -> RunLink:
    """An existing run; ``RunNotFound`` when the tracking store does not have it."""
    client, uri = _client(tracking_uri)
    try:
        run = client.get_run(run_id)
    except Exception as exc:
        raise ExperimentLinkError("RunNotFound", f"MLflow run {run_id} at {uri}: {exc}") from None
    return RunLink(run.info.run_id, uri, str(run.info.experiment_id))


def start(run_name: str, tracking_uri: str | None = None, experiment: str | None = None) -> RunLink:
    """A new run in ``experiment`` (``$MLFLOW_EXPERIMENT_NAME``, else ``modelops``), created if needed."""
    client, uri = _client(tracking_uri)
    name = experiment or os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    try:
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
        run = client.create_run(experiment_id, run_name=run_name)
    except Exception as exc:
        raise ExperimentLinkError("TrackingUnavailable", f"starting an MLflow run at {uri}: {exc}") from None
    return RunLink(run.info.run_id, uri, str(experiment_id), owned=True)


def record(
    link: RunLink,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    digest: str,
    artifact_uri: str | None = None,
    failed: bool = False,
) -> None:
    """Params (as text), finite metrics and the artifact's digest (and uri) into the run; a
    run started here is ended (FINISHED, or FAILED)."""
    from mlflow.entities import Metric, Param, RunTag

    client, _ = _client(link.tracking_uri)
    stamp = _millis()
    tags = [RunTag(DIGEST_TAG, digest)] + ([RunTag(URI_TAG, artifact_uri)] if artifact_uri else [])
    try:
        client.log_batch(
            link.run_id,
            params=[Param(_key(k), _text(v)) for k, v in sorted(params.items())],
            metrics=[Metric(_key(k), float(v), stamp, 0) for k, v in sorted(metrics.items())
                     if isinstance(v, (int, float)) and math.isfinite(v)],
            tags=tags,
        )
        if link.owned:
            client.set_terminated(link.run_id, status="FAILED" if failed else "FINISHED")
    except Exception as exc:
        raise ExperimentLinkError("TrackingFailed", f"recording in MLflow run {link.run_id}: {exc}") from None


def _key(name: str) -> str:
    return _KEY.sub("_", str(name))[:250] or "_"


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_PARAM_VALUE]


def _millis() -> int:
    import time

    return int(time.time() * 1000)

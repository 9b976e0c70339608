"""The example manifests as the demo applies them: artifact and data URIs pointed at the demo's
files, and time compressed (seconds instead of minutes) so the whole loop fits in a few minutes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelops.sandbox.cluster import ROOT

EXAMPLES = ROOT / "manifests" / "examples"


@dataclass(frozen=True)
class Pace:
    """The time-compressed settings (a real cluster uses the examples' minutes)."""

    drift_interval: str = "5s"
    drift_window: str = "1m"
    drift_min_samples: int = 150
    step_pause: str = "10s"
    analysis_interval: str = "5s"
    analysis_min_samples: int = 15  # requests per version and interval
    request_rate: float = 12.0  # requests per second of the demo's clients


NORMAL = Pace()
FAST = Pace(drift_interval="4s", step_pause="6s", analysis_interval="4s", request_rate=15.0)


def documents(*, artifact_uri: str, sha256: str, holdout_uri: str, retrain_uri: str, output_uri: str,
              pace: Pace) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append(_rewrite(doc, _Uris(artifact_uri, sha256, holdout_uri, retrain_uri, output_uri), pace))
    return docs


@dataclass(frozen=True)
class _Uris:
    artifact: str
    sha256: str
    holdout: str
    retrain: str
    output: str


def _rewrite(doc: dict[str, Any], uris: _Uris, pace: Pace) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "ModelVersion":
        spec["artifact"] = {**spec["artifact"], "uri": uris.artifact, "sha256": uris.sha256}
        if "validation" in spec:
            spec["validation"]["holdoutUri"] = uris.holdout
    elif doc["kind"] == "ModelDeployment":
        strategy = spec["strategy"]
        for step in strategy["canary"]["steps"]:
            step["pause"] = pace.step_pause
        # Small samples (seconds, not minutes, of traffic): one unlucky interval is not a rollback.
        strategy["analysis"].update(interval=pace.analysis_interval, minSamples=pace.analysis_min_samples,
                                    failureLimit=2,
                                    # two cores shared by every pod: latency is noise here
                                    maxLatencyRatio=5,
                                    # v2 is retrained to answer differently on the shifted inputs, so
                                    # its predictions' distribution moves on purpose
                                    maxPredictionPSI=2.0)
        strategy.update(progressDeadline="3m", scaleDownDelay="5s")
    elif doc["kind"] == "DriftPolicy":
        spec.update(interval=pace.drift_interval, window=pace.drift_window, minSamples=pace.drift_min_samples)
        trainer = spec["retrain"]["trainer"]
        trainer.update(datasetUri=uris.retrain, outputUri=uris.output)
        spec["retrain"]["cooldown"] = "10m"
        if "conceptDrift" in spec:
            # v1 is right about 4 times in 5 on reference customers: seconds of feedback from them
            # must not read as concept drift before the shift does.
            spec["conceptDrift"]["minimum"] = min(float(spec["conceptDrift"]["minimum"]), 0.7)
    return doc


def as_file_uri(path: Path, directory: bool = False) -> str:
    uri = path.resolve().as_uri()
    return uri + "/" if directory else uri

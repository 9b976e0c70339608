"""A slow artifact server cannot hold the operator's workers (issue 12, item 4).

A real server on 127.0.0.1 answers every GET and then sends one byte every 0.5 s, so no
single read ever times out. Inspections run in their own bounded pool with a total
deadline; the reconcile workers only start them, so a healthy ModelVersion is verified
while four slow ones download, and each slow one ends ``Ready=False ArtifactUnreachable``
with the figures, retried with backoff (not Stalled)."""

from __future__ import annotations

import re

import pytest

from modelops.emulator.testing import EmulatorHandle
from tests.artifact.trickle import serve_trickle

from .conftest import Artifact
from .harness import MV_API, condition, has_condition, model_version, running_operator, wait_for, wait_object

pytestmark = pytest.mark.integration

SLOW = [f"slow-{i}" for i in range(4)]


def test_four_slow_artifacts_do_not_keep_a_healthy_version_from_becoming_ready(
    k8s: EmulatorHandle, artifacts: tuple[Artifact, Artifact]
) -> None:
    healthy = artifacts[0]
    with serve_trickle(0.5) as server, running_operator(
        k8s, workers=4, artifact_timeout_s=60.0, artifact_deadline_s=3.0, inspection_workers=8
    ):
        for name in SLOW:
            k8s.create(model_version(name, f"{server.url}/{name}", healthy.sha256))
        # Every worker has had a slow one to inspect: all four downloads are under way.
        wait_for(lambda: len(server.requests) >= len(SLOW), "four slow downloads")
        k8s.create(model_version("healthy", healthy.uri, healthy.sha256))
        wait_object(k8s, MV_API, "ModelVersion", "healthy", lambda o: has_condition(o, "Ready", "True"),
                    what="the healthy ModelVersion Ready")
        for name in SLOW:
            slow = wait_object(
                k8s, MV_API, "ModelVersion", name, lambda o: has_condition(o, "Ready", "False", "ArtifactUnreachable"),
                what=f"{name} Ready=False ArtifactUnreachable",
            )
            message = (condition(slow, "Ready") or {}).get("message", "")
            assert f"{server.url}/{name}/manifest.json" in message
            assert re.search(r"\d+ bytes received in \d+\.\ds, past the 3s deadline", message), message
            assert "retrying with backoff" in message
            assert not has_condition(slow, "Stalled", "True")  # waiting may fix it


def test_the_operator_takes_an_artifact_deadline_flag() -> None:
    import argparse

    from modelops.operator import cli

    parser = argparse.ArgumentParser()
    cli.register(parser)
    assert cli.options_from_args(parser.parse_args([])).artifact_deadline_s == 60.0
    assert cli.options_from_args(parser.parse_args(["--artifact-deadline", "90s"])).artifact_deadline_s == 90.0

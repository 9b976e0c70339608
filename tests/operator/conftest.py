"""Fixtures of the operator's integration tests: an emulator with our CRDs, real artifacts, and
the serving replicas of the canary tests (``canary_cluster``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.emulator.testing import EmulatorHandle

from .canary_cluster import Replicas, serving_replicas
from .harness import Artifact, make_artifact, operator_emulator

__all__ = ["Artifact"]  # tests import it from here too


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Artifact, Artifact]:
    """Two real artifacts of tiny models (two versions of one model)."""
    root = tmp_path_factory.mktemp("artifacts")
    return Artifact(*make_artifact(root / "v1", seed=1)), Artifact(*make_artifact(root / "v2", seed=2))


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatorHandle]:
    with operator_emulator(tmp_path) as handle:
        yield handle


@pytest.fixture
def replicas(k8s: EmulatorHandle) -> Iterator[Replicas]:
    """The Deployment controller, kubelet and serving pods of ModelDeployment churn's children,
    played by the test (``Replicas.tick``)."""
    with serving_replicas(k8s) as r:
        yield r

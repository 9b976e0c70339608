"""Fixtures of the operator's integration tests: an emulator with our CRDs, real artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelops.emulator.testing import EmulatorHandle, running_emulator

from .harness import CRDS, make_artifact


@dataclass(frozen=True)
class Artifact:
    uri: str
    sha256: str


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Artifact, Artifact]:
    """Two real artifacts of tiny models (two versions of one model)."""
    root = tmp_path_factory.mktemp("artifacts")
    return Artifact(*make_artifact(root / "v1", seed=1)), Artifact(*make_artifact(root / "v2", seed=2))


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path / "kubeconfig", bookmark_interval=1.0, crds=[CRDS]) as handle:
        yield handle

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.support import ProcessServer, build_churn, build_lr, process_server


@pytest.fixture(scope="session")
def lr_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifacts") / "cancer"
    build_lr(out)
    return out


@pytest.fixture(scope="session")
def churn_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifacts") / "churn"
    build_churn(out)
    return out


@pytest.fixture(scope="module")
def lr_server(lr_artifact: Path) -> Iterator[ProcessServer]:
    with process_server(lr_artifact, "--model-version", "v1", "--max-body-bytes", "65536") as server:
        yield server

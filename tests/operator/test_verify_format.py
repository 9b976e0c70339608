"""The operator refuses an artifact whose format is not the one the ModelVersion declares."""

from __future__ import annotations

from pathlib import Path

from modelops.operator.modelversion.reconcile import Verify
from modelops.operator.modelversion.verify import inspect
from tests.operator.harness import make_artifact


def test_a_skops_artifact_declared_as_skops_is_verified(tmp_path: Path) -> None:
    uri, sha = make_artifact(tmp_path / "a")
    outcome = inspect(Verify(uri, sha, False, "skops", False))
    assert outcome.reason is None
    assert outcome.summary is not None
    assert outcome.summary["sha256"] == sha


def test_a_skops_artifact_declared_as_joblib_is_unsupported_before_any_pod_loads_it(tmp_path: Path) -> None:
    uri, sha = make_artifact(tmp_path / "a")
    outcome = inspect(Verify(uri, sha, False, "joblib", True))
    assert outcome.reason == "UnsupportedFormat"
    assert "the artifact is skops, the ModelVersion says joblib" in outcome.message

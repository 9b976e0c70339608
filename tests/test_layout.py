"""The top-level folders map into one import package without shadowing the standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_operator_folder_is_a_namespace_portion_not_a_regular_package() -> None:
    # A regular package `operator/` at the repo root would shadow the standard library's
    # `operator` for any Python started there with the root on sys.path (`python -m …`,
    # setuptools' build backend), breaking `collections` and with it everything.
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_python_started_in_the_repo_root_imports_the_stdlib_operator() -> None:
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import sys; sys.path.insert(0, ''); import operator; print(operator.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert not done.stdout.strip().startswith(str(ROOT))


def test_subpackages_resolve_to_the_top_level_folders() -> None:
    import modelops.operator.cli
    import modelops.serving.cli

    assert Path(modelops.operator.cli.__file__).resolve().parent == ROOT / "operator"
    assert Path(modelops.serving.cli.__file__).resolve().parent == ROOT / "serving"
    assert Path(modelops.__file__).resolve().parent == ROOT / "modelops"

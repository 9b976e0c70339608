"""The layers in .importlinter hold, and the bottom layer imports nothing of modelops.

`make lint` runs `lint-imports` too; this test keeps the contracts honest in `pytest` alone and
proves each contract can fail (a contract that cannot be broken proves nothing).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the dev extra")


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(config)], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_contracts_are_kept() -> None:
    done = _lint(ROOT / ".importlinter")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_operator_folder_is_analysed() -> None:
    # operator/ is a namespace portion (no __init__.py): grimp skips such folders inside a
    # regular package unless they are named as a root of their own.
    assert "modelops.operator" in (ROOT / ".importlinter").read_text()


def test_conditions_imports_nothing_of_modelops() -> None:
    tree = ast.parse((ROOT / "modelops" / "conditions.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [name for name in imported if name == "modelops" or name.startswith("modelops.")]


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("modelops/conditions.py", "import modelops.api.common", "above conditions BROKEN"),
        ("modelops/drift/__init__.py", "import modelops.artifact", "above conditions BROKEN"),
        ("modelops/api/__init__.py", "import modelops.operator.kube", "above conditions BROKEN"),
        ("modelops/health.py", "import modelops.emulator", "emulator or the sandbox BROKEN"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    # A copy of the package (operator and serving resolved) with one import added upwards.
    copy = tmp_path / "tree"
    copy.mkdir()
    subprocess.run(["cp", "-rL", str(ROOT / "modelops"), str(copy)], check=True)
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    config = copy / ".importlinter"
    config.write_text((ROOT / ".importlinter").read_text())
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(config)],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert contract in done.stdout

"""The decision modules stay pure: no kopf, no HTTP client, no API calls."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OPERATOR = Path(__file__).resolve().parents[2] / "operator"
PURE = [
    "modelversion/validation.py",
    "plans.py",
    "modeldeployment/children.py",
    "modeldeployment/observed.py",
    "modeldeployment/reconcile.py",
    "modeldeployment/strategies/step.py",
    "modeldeployment/strategies/recreate.py",
    "modeldeployment/strategies/canary.py",
    "modelversion/reconcile.py",
]
FORBIDDEN = ("kopf", "aiohttp", "modelops.operator.kube", "modelops.operator.controller", "modelops.artifact")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_decision_modules_import_no_client_and_no_framework(module: str) -> None:
    bad = sorted(n for n in _imports(OPERATOR / module) if n.startswith(FORBIDDEN))
    assert bad == [], f"{module} imports {bad}: decisions must be pure functions of their inputs"


def test_handler_modules_only_register() -> None:
    for path in OPERATOR.glob("*/handlers.py"):
        functions = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in functions] == ["register"], path

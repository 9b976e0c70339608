"""The decision modules stay pure: no kopf, no HTTP client, no API calls.

In the analysis package only the two metrics sources (and what builds them) do I/O; every
other module of it is listed here as pure, and a new one must say which it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OPERATOR = Path(__file__).resolve().parents[2] / "operator"
ANALYSIS_PURE = ["histograms.py", "samples.py", "exposition.py", "criteria.py", "verdicts.py", "abtest.py",
                 "sources.py"]
ANALYSIS_IO = {"pods.py", "prometheus.py", "factory.py", "names.py", "__init__.py"}
PURE = [
    "jobs.py",
    "modelversion/validation.py",
    "plans.py",
    "modeldeployment/children.py",
    "modeldeployment/observed.py",
    "modeldeployment/reconcile.py",
    "modeldeployment/strategies/step.py",
    "modeldeployment/strategies/recreate.py",
    "modeldeployment/strategies/canary.py",
    "modelversion/reconcile.py",
    *(f"analysis/{name}" for name in ANALYSIS_PURE),
]
FORBIDDEN = ("kopf", "aiohttp", "kubernetes", "socket", "modelops.operator.kube", "modelops.operator.controller",
             "modelops.artifact", "modelops.serving")


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


def test_every_analysis_module_is_either_pure_or_a_named_source() -> None:
    assert {p.name for p in (OPERATOR / "analysis").glob("*.py")} == set(ANALYSIS_PURE) | ANALYSIS_IO


def test_handler_modules_only_register() -> None:
    for path in OPERATOR.glob("*/handlers.py"):
        functions = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in functions] == ["register"], path

"""Only the two sources do I/O: the rest of the analysis package is pure functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parents[3] / "operator" / "analysis"
PURE = ["histograms.py", "samples.py", "exposition.py", "criteria.py", "verdicts.py", "abtest.py", "sources.py"]
FORBIDDEN = ("kopf", "aiohttp", "kubernetes", "socket", "modelops.operator.kube", "modelops.serving")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_analysis_decisions_import_no_client(module: str) -> None:
    bad = sorted(n for n in _imports(ANALYSIS / module) if n.startswith(FORBIDDEN))
    assert bad == [], f"{module} imports {bad}: analysis decisions must be pure"


def test_every_module_is_either_pure_or_a_named_source() -> None:
    sources = {"pods.py", "prometheus.py", "factory.py", "names.py", "__init__.py"}
    assert {p.name for p in ANALYSIS.glob("*.py")} == set(PURE) | sources

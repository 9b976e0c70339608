"""The names other parts of modelops import from `modelops.artifact`."""

from __future__ import annotations

import importlib

import modelops.artifact


def test_public_names_resolve_to_functions_not_same_named_modules() -> None:
    # Import every submodule first: a submodule named like a function would shadow it.
    for module in set(modelops.artifact._EXPORTS.values()):
        importlib.import_module(module)
    importlib.import_module("modelops.artifact.fetch_cli")
    importlib.import_module("modelops.artifact.package_cli")
    for name in modelops.artifact.__all__:
        value = getattr(modelops.artifact, name)
        assert isinstance(value, type) or callable(value), name
        assert getattr(value, "__name__", None) == name

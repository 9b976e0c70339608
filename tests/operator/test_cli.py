"""`modelops operator` flags: scope, ports that can be turned off, durations, the image."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from modelops.operator import cli
from modelops.operator.options import DEFAULT_IMAGE


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser)
    return parser.parse_args(argv)


def test_defaults_serve_every_namespace_with_probes_and_metrics_on_the_manifests_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELOPS_IMAGE", raising=False)
    options = cli.options_from_args(_parse())
    assert options.all_namespaces
    assert (options.health_port, options.metrics_port) == (8081, 9090)
    assert options.image == DEFAULT_IMAGE
    assert options.resync_s == 300.0


def test_namespaces_repeat_and_exclude_all_namespaces() -> None:
    options = cli.options_from_args(_parse("--namespace", "a", "-n", "b", "--metrics-port", "0", "--resync", "30s"))
    assert options.namespaces == ("a", "b")
    assert not options.all_namespaces
    assert options.metrics_port is None
    assert options.resync_s == 30.0
    with pytest.raises(SystemExit):
        _parse("--namespace", "a", "--all-namespaces")


def test_the_image_comes_from_the_environment_unless_a_flag_names_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOPS_IMAGE", "registry.example.com/modelops:dev")
    assert cli.options_from_args(_parse()).image == "registry.example.com/modelops:dev"
    assert cli.options_from_args(_parse("--image", "other:1")).image == "other:1"


def test_help_does_not_import_kopf(tmp_path: Path) -> None:
    code = "import sys, modelops.operator.cli; print('kopf' in sys.modules)"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"

"""The `modelops` console script: one entry point, one subcommand per job.

Each subcommand lives in a light ``*_cli`` module exposing ``register(parser)`` and
``run(args) -> int``; heavy imports (kopf, scikit-learn, uvicorn) happen inside ``run``,
so ``modelops --help`` stays fast and one subcommand never pays for another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from modelops import __version__

# name -> (module, one-line help). Modules are imported only when needed.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "operator": ("modelops.operator.cli", "run the Kubernetes operator (kopf)"),
    "serve": ("modelops.serving.cli", "serve a model artifact over the Open Inference Protocol v2"),
    "fetch": ("modelops.artifact.fetch_cli", "download an artifact and verify every file"),
    "package": ("modelops.artifact.package_cli", "build an artifact directory from a fitted model"),
    "train": ("modelops.training.cli", "fit a model, gate it against the champion, publish its artifact"),
    "validate": ("modelops.validation.cli", "validate a model artifact on a holdout: metrics, champion, fairness"),
    "rollout": ("modelops.rollout.cli", "watch a ModelDeployment's rollout, or promote, abort or retry it"),
    "history": ("modelops.history.cli", "the audit chain of a model: versions, lineage, validation, rollouts"),
    "crds": ("modelops.api.crds_cli", "write the CustomResourceDefinitions generated from the models"),
    "emulator": ("modelops.emulator.cli", "run the embedded Kubernetes API emulator on 127.0.0.1"),
    "sandbox": ("modelops.sandbox.cli", "the operator, the API emulator and local pods on 127.0.0.1"),
}


class _Subcommand(Protocol):
    def register(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> _Subcommand:
    return cast(_Subcommand, importlib.import_module(SUBCOMMANDS[name][0]))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    summary = __doc__.splitlines()[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="modelops", description=summary)
    parser.add_argument("--version", action="version", version=f"modelops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            _load(name).register(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Register only the chosen subcommand's arguments: importing every subcommand module
    # to build one parser would make each command pay for all of them.
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    parser = build_parser(only=chosen)
    args = parser.parse_args(argv)
    return _load(args.command).run(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

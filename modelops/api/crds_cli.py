"""`modelops crds`: write (or check) the generated CRD YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("crds"), help="directory to write (default: crds)")
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 when a file is missing or stale"
    )
    parser.add_argument("--stdout", action="store_true", help="print all CRDs as one YAML stream")


def run(args: argparse.Namespace) -> int:
    from modelops.api.crdgen import render_all

    rendered = render_all()
    if args.stdout:
        sys.stdout.write("---\n".join(rendered.values()))
        return 0
    out: Path = args.out
    stale = [name for name, text in rendered.items() if _read(out / name) != text]
    if args.check:
        for name in stale:
            print(f"stale or missing: {out / name} (run `modelops crds --out {out}`)", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / name).write_text(text)
        print(f"{'wrote' if name in stale else 'unchanged'} {out / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None

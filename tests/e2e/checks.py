"""What the e2e tests read back from a sandbox once it ran: an object's condition, and the
processes it may have left behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition ``type_`` of an object as kubectl prints it, or {} when it has none."""
    found: dict[str, Any] = next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), {})
    return found


def processes_under(directory: Path) -> list[str]:
    """Command lines of running processes that mention ``directory`` (the sandbox's pods,
    operator and API all do: their logs, kubeconfig and pod volumes live there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline:
            found.append(cmdline)
    return found

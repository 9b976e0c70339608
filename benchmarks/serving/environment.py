"""What the serving benchmark needs on the machine: wrk, and MLServer in a virtualenv of its own.

Both are installed on first use so that `make bench-serving` works on a fresh clone:
- wrk comes from Debian (`apt-get install -y wrk`, needs root, as in the project's CI and dev machines);
- MLServer 1.7.1 + mlserver-sklearn go to `benchmarks/.venvs/mlserver` (gitignored), with the same
  scikit-learn, numpy and joblib versions as our `.venv` so that both load the very same model file,
  and `uvloop==0.21.0` because MLServer 1.7.1's parallel workers crash at start with uvloop 0.23.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

MLSERVER_VERSION = "1.7.1"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed and we are not root: run `sudo apt-get install -y wrk`")
    print("installing wrk with apt-get ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk but it is not on PATH")
    return found


def mlserver_pins() -> list[str]:
    same_as_ours = [f"{name}=={importlib.metadata.version(name)}" for name in ("scikit-learn", "numpy", "joblib")]
    return [
        f"mlserver=={MLSERVER_VERSION}",
        f"mlserver-sklearn=={MLSERVER_VERSION}",
        "uvloop==0.21.0",
        "httptools",
        *same_as_ours,
    ]


def ensure_mlserver_venv(venv: Path) -> Path:
    """Create (or refresh when the pins changed) MLServer's virtualenv; return its `mlserver` script."""
    pins = mlserver_pins()
    stamp = venv / ".bench-pins.json"
    mlserver = venv / "bin" / "mlserver"
    if mlserver.exists() and stamp.exists() and json.loads(stamp.read_text()) == pins:
        return mlserver
    print(f"installing MLServer into {venv} ({' '.join(pins)}) ...", flush=True)
    if not (venv / "bin" / "python").exists():
        # The base interpreter, not our .venv's, so that MLServer shares nothing with it.
        base_python = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base_python, "-P", "-m", "venv", str(venv)], check=True)
    # -P: the current directory must not shadow the standard library (the repository's `operator/`).
    pip = [str(venv / "bin" / "python"), "-P", "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", *pins], check=True)
    stamp.write_text(json.dumps(pins))
    return mlserver


def venv_versions(python: Path, packages: list[str]) -> dict[str, str | None]:
    """Versions of `packages` as installed for the interpreter `python` (None when absent)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for p in sys.argv[1:]:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: out[p] = None\n"
        "print(json.dumps(out))\n"
    )
    command = [str(python), "-P", "-c", code, *packages]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    versions: dict[str, str | None] = json.loads(done.stdout)
    return versions


def machine_info() -> dict[str, object]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    wrk_version = subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True)
    return {
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0].strip(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def git_commit(repo: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=False, capture_output=True, text=True)
    return done.stdout.strip() or None


def uncommitted(repo: Path, paths: list[str]) -> list[str]:
    """Files under `paths` that differ from the commit (the editable install serves the working tree)."""
    command = ["git", "-C", str(repo), "status", "--porcelain", "--", *paths]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    return [line[3:] for line in done.stdout.splitlines()]

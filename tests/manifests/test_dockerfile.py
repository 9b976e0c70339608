"""The Dockerfile builds one non-root image whose entrypoints exist (checked without Docker).

There is no Docker engine here, so the build is reproduced as far as it matters: the build
stage's COPY lines are applied to the repository through .dockerignore, the wheel is built from
exactly those files, and the wheel must hold every subcommand module and the console script.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from modelops.cli import SUBCOMMANDS, build_parser
from tests.manifests.dockerfile import DockerIgnore, Stage, assemble, copy_sources, parse
from tests.manifests.kustomize import MANIFESTS, ROOT, kustomize

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
STAGES = parse((ROOT / "Dockerfile").read_text())
FINAL = STAGES[-1]
IGNORE = DockerIgnore((ROOT / ".dockerignore").read_text())


def _build_stage() -> Stage:
    [build] = [stage for stage in STAGES if stage.all("COPY") and copy_sources(stage)]
    return build


def test_every_stage_uses_the_slim_python_the_project_requires() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert {stage.base for stage in STAGES} == {"python:3.11-slim"}


def test_image_runs_as_a_numeric_non_root_user() -> None:
    user, _, group = FINAL.last("USER").arguments.partition(":")
    # Numeric, so the kubelet can check runAsNonRoot; not 0 in either part.
    assert user.isdigit(), user
    assert int(user) != 0
    assert group in ("", user), "run as the user's own numeric group"
    # The operator Deployment's pod runs as the same user.
    pod = next(o for o in kustomize(MANIFESTS / "operator") if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(user)


def test_entrypoint_is_the_console_script_and_default_command_a_subcommand() -> None:
    [script] = FINAL.last("ENTRYPOINT").exec_form()
    assert PYPROJECT["project"]["scripts"][script] == "modelops.cli:main"
    command = FINAL.last("CMD").exec_form()
    assert command[0] in SUBCOMMANDS
    build_parser(only=command[0]).parse_args(command)


def test_image_installs_the_project_without_dev_extras() -> None:
    runs = " ".join(i.arguments for i in _build_stage().all("RUN"))
    assert "pip install ." in runs
    assert "[dev]" not in runs
    assert "-e " not in runs


def test_operator_manifest_args_are_a_valid_command_line() -> None:
    deployment = next(o for o in kustomize(MANIFESTS / "operator") if o["kind"] == "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    # No `command`: the image's ENTRYPOINT (the console script) runs with these args.
    assert "command" not in container
    args = container["args"]
    assert args[0] in SUBCOMMANDS
    build_parser(only=args[0]).parse_args(args)


def test_build_context_holds_what_the_build_copies() -> None:
    for folder in (".venv", ".git", "tests", "benchmarks", ".sandbox", "modelops/__pycache__"):
        assert IGNORE.excluded(folder), f"{folder} would be sent to the Docker daemon"
    for sources, _ in copy_sources(_build_stage()):
        for source in sources:
            assert not IGNORE.excluded(source.rstrip("/")), f"COPY {source} is excluded by .dockerignore"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("wheel")
    assert assemble(_build_stage(), ROOT, IGNORE, source) == []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, f"building the wheel from the image's files failed:\n{done.stderr}"
    [built] = out.glob("modelops-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_from_the_image_files_holds_every_subcommand(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for subcommand, (module, _help) in SUBCOMMANDS.items():
        as_file = module.replace(".", "/")
        assert f"{as_file}.py" in names or f"{as_file}/__init__.py" in names, f"`modelops {subcommand}`: {module}"
    # The symlinked subpackages are in as real files (operator/ is a namespace portion: no
    # __init__.py, so that it can never shadow the standard library's `operator`).
    assert "modelops/operator/kube.py" in names
    assert "modelops/serving/__init__.py" in names
    assert not any("tests/" in name or "__pycache__" in name for name in names)


def test_wheel_declares_the_modelops_console_script(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[console_scripts]" in text
    assert "modelops = modelops.cli:main" in text


def test_manifests_and_dockerfile_agree_on_the_image_name() -> None:
    name = "ghcr.io/modelops/modelops"
    assert f"docker build -t {name}:{PYPROJECT['project']['version']} ." in (ROOT / "Dockerfile").read_text()
    assert any(f"{name}:" in p.read_text() for p in (MANIFESTS / "operator").glob("*.yaml"))


def _closure(requirements: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Installed distributions (normalised names) a list of requirements pulls in, transitively."""
    seen: set[str] = set()
    queue = [(r, extras) for r in requirements]
    while queue:
        text, active = queue.pop()
        requirement = Requirement(text)
        environment = [{"extra": extra} for extra in active] or [{"extra": ""}]
        if requirement.marker and not any(requirement.marker.evaluate(env) for env in environment):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # an optional dependency this environment does not have
        seen.add(name)
        queue += [(r, tuple(requirement.extras)) for r in requires]
    return seen


def test_every_module_imports_without_the_dev_extras() -> None:
    # The image installs no extras: no module may need pytest, lupa, hypothesis... at import time.
    runtime = _closure(PYPROJECT["project"]["dependencies"])
    dev_only = _closure(PYPROJECT["project"]["optional-dependencies"]["dev"]) - runtime - {"setuptools", "pip"}
    # A top-level name is absent from the image only when every distribution providing it is
    # dev-only: `opentelemetry` is shared by fastapi's runtime opentelemetry-api and mlflow's sdk.
    blocked = sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if all(canonicalize_name(d) in dev_only for d in distributions)
    )
    assert {"pytest", "lupa", "hypothesis"} <= set(blocked)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, *blocked],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr


IMPORT_EVERYTHING = """
import importlib, pkgutil, sys

BLOCKED = set(sys.argv[1:])

class DevOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is a dev-only package, absent from the image")

sys.meta_path.insert(0, DevOnly())
import modelops
failed = []
for module in pkgutil.walk_packages(modelops.__path__, "modelops."):
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{module.name}: {error!r}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""

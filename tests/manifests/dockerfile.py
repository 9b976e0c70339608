"""Just enough of Docker's build semantics to test the Dockerfile without a Docker engine.

Parses instructions per stage, applies ``.dockerignore`` the way Docker does (patterns in order,
the last match wins, ``!`` re-includes, a pattern matching a folder covers what is inside), and
assembles a stage's ``COPY`` sources into a folder, as the builder would see them.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of ENTRYPOINT/CMD; a shell form string would wrap it in `sh -c`."""
        value = json.loads(self.arguments)
        if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise ValueError(f"{self.keyword} must be in exec form (a JSON array): {self.arguments}")
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise ValueError(f"stage {self.name or self.base} has no {keyword}")
        return found[-1]


def parse(text: str) -> list[Stage]:
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            base, _, name = arguments.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=name.strip() or None))
        elif not stages:
            raise ValueError(f"{keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def _regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            self.rules.append((include, _regex(line.lstrip("!").strip("/"))))

    def excluded(self, relative: str) -> bool:
        path = PurePosixPath(relative)
        candidates = [str(path), *(str(parent) for parent in path.parents if str(parent) != ".")]
        excluded = False
        for include, regex in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded


def copy_sources(stage: Stage) -> list[tuple[list[str], str]]:
    """The (sources, destination) of each COPY from the build context (not --from another stage)."""
    copies = []
    for instruction in stage.all("COPY"):
        words = instruction.arguments.split()
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        copies.append((paths[:-1], paths[-1]))
    return copies


def assemble(stage: Stage, context: Path, ignore: DockerIgnore, workdir: Path) -> list[str]:
    """Copy what the stage's COPY lines take from the context into workdir; returns the sources
    that the build would not find (ignored by .dockerignore or absent)."""

    def ignored(folder: str, names: list[str]) -> list[str]:
        return [name for name in names if ignore.excluded(str((Path(folder) / name).relative_to(context)))]

    missing = []
    for sources, destination in copy_sources(stage):
        target = workdir / destination
        for source in sources:
            if ignore.excluded(source.rstrip("/")) or not (context / source).exists():
                missing.append(source)
            elif (context / source).is_dir():
                # Docker copies a folder's contents, and links inside it as links.
                shutil.copytree(context / source, target, symlinks=True, dirs_exist_ok=True, ignore=ignored)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(context / source, target / Path(source).name)
    return missing

"""How the demo speaks: one line per event, rich markup on a terminal, plain text otherwise
(a log line with the time, so a CI log or a pipe reads the same story without colour)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STYLES = {"drift": "yellow", "detected": "bold yellow", "job": "cyan", "gate": "bold cyan", "version": "magenta",
          "validation": "magenta", "canary": "blue", "traffic": "dim", "promoted": "bold green", "step": "bold",
          "error": "bold red", "info": ""}


@dataclass
class Display:
    console: Console = field(default_factory=lambda: Console(stderr=True, width=140))
    started: float = field(default_factory=time.monotonic)

    @property
    def rich(self) -> bool:
        return self.console.is_terminal

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def event(self, kind: str, text: str) -> None:
        """One event of the story."""
        if self.rich:
            style = STYLES.get(kind, "")
            tag = f"[{style}]{kind:<10}[/]" if style else f"{kind:<10}"
            self.console.print(f"[dim]{self.elapsed()}[/] {tag} {escape(text)}", highlight=False)
        else:
            self.console.print(f"{self.elapsed()} {kind:<10} {text}", markup=False, highlight=False, soft_wrap=True)

    def section(self, title: str) -> None:
        if self.rich:
            self.console.rule(f"[bold]{escape(title)}")
        else:
            self.console.print(f"{self.elapsed()} ---------- {title}", markup=False, highlight=False, soft_wrap=True)

    def text(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def table(self, table: Table) -> None:
        self.console.print(table)

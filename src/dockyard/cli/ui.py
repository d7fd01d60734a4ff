"""The console: rich output, progress for long work, and how errors look."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape

from ..errors import DockyardError
from ..redact import redact


class Ui:
    def __init__(self, console: Console | None = None, err: Console | None = None):
        self.console = console or Console()
        self.err = err or Console(stderr=True)

    def info(self, text: str) -> None:
        self.console.print(escape(redact(text)))

    def ok(self, text: str) -> None:
        self.console.print(f"[green]✓[/green] {escape(redact(text))}")

    def warn(self, text: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(redact(text))}")

    def error(self, exc: DockyardError) -> None:
        where = f"[bold]{escape(redact(exc.where))}[/bold]: " if exc.where else ""
        self.err.print(f"[red]error:[/red] {where}{escape(redact(exc.message))}")
        if exc.hint:
            self.err.print(f"  [cyan]hint:[/cyan] {escape(redact(exc.hint))}")

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[Callable[[str], None]]:
        """A spinner with the latest line of progress; yields a callback for lines."""
        with self.err.status(escape(title)) as status:
            def update(line: str) -> None:
                line = redact(line).strip()
                if line:
                    status.update(f"{escape(title)} [dim]{escape(line[-100:])}[/dim]")

            yield update
        self.ok(title)

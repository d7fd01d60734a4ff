"""The console: rich output, progress for long work, and how errors look."""

from __future__ import annotations

import contextlib
import threading
import time
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
    def step(self, title: str, every: float = 15.0) -> Iterator[Callable[[str], None]]:
        """Progress of long work; yields a callback for lines.

        In a terminal: a spinner with the latest line. Without one (CI, a log file): plain
        lines, the latest one at most every `every` seconds, and a line saying the step is
        still at work when nothing new came for that long."""
        if self.err.is_terminal:
            with self.err.status(escape(title)) as status:
                def update(line: str) -> None:
                    line = redact(line).strip()
                    if line:
                        status.update(f"{escape(title)} [dim]{escape(line[-100:])}[/dim]")

                yield update
            self.ok(title)
            return
        with _Ticker(self.err, title, every) as ticker:
            yield ticker.line
        self.ok(f"{title} ({ticker.elapsed():.0f} s)")


class _Ticker:
    """Plain periodic progress lines for a console that is not a terminal."""

    def __init__(self, console: Console, title: str, every: float):
        self.console, self.title, self.every = console, title, every
        self.start = self.last_shown = time.monotonic()
        self.latest, self.shown = "", ""
        self.lock = threading.Lock()
        self.done = threading.Event()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _print(self, text: str) -> None:
        self.console.print(f"  {escape(text)}", highlight=False, soft_wrap=True)

    def line(self, line: str) -> None:
        line = redact(line).strip()
        if not line:
            return
        with self.lock:
            self.latest = line
            if time.monotonic() - self.last_shown >= self.every:
                self._show()

    def _show(self) -> None:
        self.last_shown = time.monotonic()
        if self.latest != self.shown:
            self.shown = self.latest
            self._print(f"[{self.elapsed():.0f} s] {self.latest[-200:]}")
        else:
            tail = f": {self.latest[-150:]}" if self.latest else ""
            self._print(f"[{self.elapsed():.0f} s] still at work{tail}")

    def _beat(self) -> None:
        while not self.done.wait(1.0):
            with self.lock:
                if time.monotonic() - self.last_shown >= self.every:
                    self._show()

    def __enter__(self) -> _Ticker:
        self._print(f"{self.title} ...")
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=2)

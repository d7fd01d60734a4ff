"""Running `dockyard` commands in tests: the real `main`, with consoles that record.

Nothing is printed to the terminal; read what a command said with
`console.export_text()`.
"""

from __future__ import annotations

import io

from rich.console import Console

from ..cli import main
from ..cli.ui import Ui


def recording_ui(width: int = 200) -> tuple[Ui, Console, Console]:
    """A Ui and its two consoles (out, err), recording, never on the terminal."""
    out = Console(file=io.StringIO(), width=width, record=True)
    err = Console(file=io.StringIO(), width=width, record=True)
    return Ui(out, err), out, err


def run_cli(*argv: str, width: int = 200) -> tuple[int, str]:
    """`dockyard ARGV...`: its exit code and everything it said, out and err together."""
    buf = io.StringIO()
    console = Console(file=buf, width=width)
    return main(list(argv), Ui(console=console, err=console)), buf.getvalue()

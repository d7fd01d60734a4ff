"""The `dockyard` command: a thin shell over the library.

Each command lives in `dockyard.cli.<name>` and exposes
`register(subparsers) -> argparse.ArgumentParser` and `main(args, ui) -> int`.
This module owns the console, logging and the one error handler; nothing
else prints or exits.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from rich.markup import escape

from .. import __version__, lifecycle
from ..errors import DockyardError
from ..fsutil import ENVIRONMENTAL, environment_error
from ..redact import RedactingFilter, redact
from .ui import Ui

COMMANDS = ("init", "lock", "plan", "build", "verify", "check", "doctor", "cluster", "pack",
            "deploy", "sbom", "cache")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="Lean, reproducible images of Python projects on a platform's base image.",
    )
    parser.add_argument("--version", action="version", version=f"dockyard {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, object] = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        command = module.register(sub)
        # Global flags work after the command too (`dockyard lock -v`); SUPPRESS keeps a
        # flag given before the command when it is not repeated after it.
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                             help="more log output (also before the command)")
        handlers[name] = module.main
    return parser, handlers


def main(argv: Sequence[str] | None = None, ui: Ui | None = None) -> int:
    parser, handlers = _parser()
    args = parser.parse_args(argv)
    ui = ui or Ui()
    _setup_logging(args.verbose, ui)
    if not args.command:
        parser.print_help()
        return 2
    try:
        with lifecycle.session(), _using_caches(args.command, ui):
            return int(handlers[args.command](args, ui) or 0)  # type: ignore[operator]
    except DockyardError as exc:
        ui.error(exc)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the machine's refusals, and our bugs
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENTAL:
            error = environment_error(exc)   # read-only, permission, no space: not a bug
            ui.error(error)
            return error.exit_code
        logging.getLogger("dockyard").debug("internal error", exc_info=True)
        ui.err.print(f"[red]internal error:[/red] {escape(redact(type(exc).__name__))}: "
                     f"{escape(redact(str(exc)))[:300]}")
        ui.err.print("  [cyan]hint:[/cyan] this is a bug in dockyard; run again with -vv "
                     "for the traceback and report it")
        return 70
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        ui.err.print(f"[red]interrupted[/red] ({signal.Signals(signum).name}): "
                     "stopped its processes, removed its containers and temporary folders")
        return 128 + signum


def _using_caches(command: str, ui: Ui):
    """Every command but `cache` holds dockyard's caches (shared) while it runs, so that
    `dockyard cache clean` never removes what a running build uses (dockyard.caches)."""
    import contextlib

    from .. import caches

    if command == "cache":
        return contextlib.nullcontext()

    def waiting(users: list[str]) -> None:
        if not told:
            told.append(True)
            ui.warn("waiting for `dockyard cache clean` to finish"
                    + (f" ({'; '.join(users)})" if users else ""))

    told: list[bool] = []
    return caches.in_use(waiting)


def _setup_logging(verbose: int, ui: Ui) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=ui.err, show_path=False, show_time=False)
    handler.addFilter(RedactingFilter())
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("dockyard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["main", "run", "redact"]

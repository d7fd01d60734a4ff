"""`dockyard init`: write a commented dockyard.toml from what the project's files say."""

from __future__ import annotations

import argparse
from pathlib import Path

from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("init", help="write dockyard.toml (deployment settings) for a project",
                       description="Read the project's files (never editing them) and write a "
                                   "commented dockyard.toml describing what was found.")
    p.add_argument("--project", type=Path, default=Path("."), metavar="DIR",
                   help="the project directory (default: .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing dockyard.toml")
    p.add_argument("--environment", metavar="FILE|none", default=None,
                   help="the conda environment file to use when the project has several "
                        "(written as [conda] environment); `none` for none")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..errors import SpecError
    from ..fsutil import write_atomic
    from ..sources import TOOLS, read_project
    from ..sources.initfile import interpreter, render_settings
    from ..sources.settings import FILENAME

    root = args.project.resolve()
    path = root / FILENAME
    if path.exists() and not args.force:
        raise SpecError(f"{FILENAME} already exists", where=str(path),
                        hint="edit it, or run `dockyard init --force` to replace it")
    choice = args.environment
    environment = False if choice in ("none", "false") else choice
    spec = read_project(root, with_settings=False, environment=environment)
    write_atomic(path, render_settings(spec, TOOLS, environment=environment))
    ui.ok(f"wrote {path}")
    ui.info(f"  read: {', '.join(f.path for f in spec.inputs)}")
    for note in spec.notes:
        ui.info(f"  {note}")
    ui.info(f"  interpreter: {interpreter(spec)[1]}")
    ui.info("  next: set target.cuda and target.base for your platform, then `dockyard lock`")
    return 0

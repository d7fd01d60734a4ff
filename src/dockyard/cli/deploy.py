"""`dockyard deploy`: the pack installed on hosts over SSH, proved, and switched in.

    dockyard deploy HOST... --prefix DIR [--pack FILE.sh] [--project DIR]
    dockyard deploy HOST... --prefix DIR --rollback
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "deploy", help="install the pack on hosts over SSH, verify, switch `current`",
        description="Copy the pack to each host (OpenSSH, your keys and ~/.ssh/config), install "
        "it at PREFIX/<pack id> beside the current one, run its self-check and compare its "
        "inventory with the lock, then switch PREFIX/current to it atomically (PREFIX/previous "
        "keeps the one before, for --rollback). Hosts run in parallel; a failing host changes "
        "no other. HOST is an ssh destination (host, user@host, ssh://user@host:port) or "
        "`local` for a directory on this machine.")
    p.add_argument("hosts", nargs="+", metavar="HOST")
    p.add_argument("--prefix", required=True, metavar="DIR",
                   help="where environments live on the hosts (PREFIX/current is the one in use)")
    p.add_argument("--pack", type=Path, metavar="FILE.sh",
                   help="a pack made by `dockyard pack` (default: pack the project now)")
    p.add_argument("--project", type=Path, default=Path("."), metavar="DIR",
                   help="the project to pack when --pack is not given (default: .)")
    p.add_argument("--settings", type=Path, default=None, metavar="FILE",
                   help="deployment settings (default: DIR/dockyard.toml when present)")
    p.add_argument("--rollback", action="store_true",
                   help="point `current` back at `previous` (after checking it) on each host")
    p.add_argument("--all-or-none", action="store_true",
                   help="switch no host unless every host's new environment passed")
    p.add_argument("--ssh-config", metavar="FILE", help="ssh -F FILE (default: ~/.ssh/config)")
    p.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE",
                   help="ssh -o KEY=VALUE (repeatable)")
    p.add_argument("--jobs", type=int, default=8, help="hosts handled at once (default 8)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..deploy import deploy, lock_of_pack, rollback, target_of

    targets = [target_of(h, config=args.ssh_config, options=tuple(args.ssh_option))
               for h in dict.fromkeys(args.hosts)]
    from .. import lifecycle

    with lifecycle.temp_dir("dockyard-deploy-") as tmp:
        with _Board(ui, [t.name for t in targets]) as board:
            if args.rollback:
                results = rollback(targets, args.prefix, jobs=args.jobs, progress=board.update)
            else:
                pack, lock = _pack_and_lock(args, ui, Path(tmp), lock_of_pack)
                results = deploy(pack, targets, args.prefix, lock, jobs=args.jobs,
                                 all_or_none=args.all_or_none, progress=board.update)
    _summary(ui, results, args.prefix)
    if args.json:
        from ..fsutil import write_atomic

        write_atomic(args.json, json.dumps([{
            "host": r.host, "status": r.status, "ok": r.ok, "current": r.version,
            "was": r.was, "seconds": round(r.seconds, 1), "detail": r.detail,
            "problems": r.problems} for r in results], indent=2) + "\n")
    return 0 if all(r.ok for r in results) else 1


def _pack_and_lock(args, ui: Ui, tmp: Path, lock_of_pack):
    if args.pack:
        with ui.step(f"Reading the lock inside {args.pack}"):
            return args.pack, lock_of_pack(args.pack)
    from ..pack import make_pack
    from ..pipeline import open_project

    project = open_project(args.project, args.settings)
    with ui.step(f"Packing {project.spec.name or project.root.name} from dockyard.lock") as p:
        result = make_pack(project, tmp / f"{project.spec.name or 'app'}-env.sh", progress=p)
    ui.info(f"pack {result.pack_id}: {result.payload_bytes / 1e6:.1f} MB")
    return result.path, project.lock


class _Board:
    """One line per host: a live table on a terminal, plain lines (on change) elsewhere."""

    def __init__(self, ui: Ui, hosts: list[str]):
        self.ui, self.hosts = ui, hosts
        self.lines = dict.fromkeys(hosts, "waiting")
        self.lock = threading.Lock()
        self.live = None
        self.last: dict[str, str] = {}

    def __enter__(self):
        if self.ui.err.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.ui.err, refresh_per_second=4,
                             transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def _table(self):
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        for host in self.hosts:
            table.add_row(f"[bold]{host}[/bold]", self.lines[host][-110:])
        return table

    def update(self, host: str, line: str) -> None:
        from ..redact import redact

        line = redact(line)
        with self.lock:
            self.lines[host] = line
            if self.live is not None:
                self.live.update(self._table())
                return
            stage = line.split(" ", 1)[0]
            if self.last.get(host) != stage:  # without a terminal: one line per stage
                self.last[host] = stage
                self.ui.err.print(f"{host}: {line}", markup=False, highlight=False)


def _summary(ui: Ui, results, prefix: str) -> None:
    from rich.table import Table

    table = Table(title=f"dockyard deploy: {prefix}/current", title_justify="left")
    for col in ("host", "result", "current", "was", "time", "detail"):
        table.add_column(col, overflow="fold")
    for r in results:
        colour = "green" if r.ok else "red"
        table.add_row(r.host, f"[{colour}]{r.status}[/{colour}]", r.version or "-",
                      r.was or "-", f"{r.seconds:.0f} s", r.detail)
    ui.console.print(table)
    for r in results:
        for p in r.problems[:15]:
            ui.console.print(f"  [red]{r.host}[/red]: {p}", markup=True, highlight=False)
        if len(r.problems) > 15:
            ui.console.print(f"  {r.host}: ... {len(r.problems) - 15} more")
    versions = {r.version for r in results if r.ok}
    if len(versions) > 1 or not all(r.ok for r in results):
        ui.warn("the hosts do not all run the same environment now: fix the failing hosts and "
                "deploy again, or --rollback the others")

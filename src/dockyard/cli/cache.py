"""`dockyard cache`: what dockyard keeps on this machine, and cleaning it.

    dockyard cache                                  # each cache: where, size, entries, last used
    dockyard cache clean [--keep-downloads] [--older-than 30d] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import time

from .. import caches
from ..audit.units import human
from ..errors import CacheError
from .ui import Ui

LARGE = 2 * 10**9   # `dockyard build` mentions the caches past this many bytes


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "cache", help="show or clean what dockyard keeps on this machine",
        description="Without an argument: what each of dockyard's caches holds (fetched "
        "packages, base layers, assembled layers, environments, builder images). `clean` "
        "removes what dockyard made, and nothing else; it waits for running dockyard "
        "commands to finish first.")
    p.add_argument("action", nargs="?", choices=("clean",), help="remove the caches")
    p.add_argument("--keep-downloads", action="store_true",
                   help="with clean: keep what was fetched (conda packages, wheels, git "
                   "checkouts, base layers from registries): costly to fetch again")
    p.add_argument("--older-than", metavar="AGE",
                   help="with clean: only what was last used longer ago than AGE "
                   "(e.g. 30d, 12h, 2w)")
    p.add_argument("--dry-run", action="store_true",
                   help="with clean: say what would be removed, remove nothing")
    return p


def _engine():
    from ..engines import available, get_engine

    found = available()
    return get_engine(found[0]) if found else None


def _ago(when: float, now: float) -> str:
    if not when:
        return "-"
    s = max(now - when, 0)
    for unit, scale in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= scale:
            return f"{s / scale:.0f} {unit} ago"
    return "just now"


def _home(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + "/") else path


def main(args: argparse.Namespace, ui: Ui) -> int:
    if not args.action and (args.keep_downloads or args.older_than or args.dry_run):
        raise CacheError("--keep-downloads, --older-than and --dry-run go with `clean`",
                         hint="dockyard cache clean --keep-downloads")
    older = caches.parse_age(args.older_than) if args.older_than else None
    engine = _engine()
    if not args.action:
        with ui.step("Measuring dockyard's caches") as progress:
            found = caches.survey(engine, progress=progress)
        _table(found, ui)
        return 0
    return _clean(found_by=lambda progress: caches.survey(engine, progress=progress),
                  engine=engine, ui=ui,
                  keep=args.keep_downloads, older=older, dry=args.dry_run)


def _table(found: caches.Survey, ui: Ui) -> None:
    from rich.table import Table

    now = time.time()
    if not found.caches:
        ui.info(f"no cache yet ({_home(str(found.root))} holds nothing of dockyard's)")
        return
    root = str(found.root) + "/"
    table = Table("cache", "size", "entries", "last used", "holds",
                  title=f"dockyard's caches in {_home(root)}", title_justify="left")
    for c in found.caches:
        where = c.where[len(root):] + "/" if c.where.startswith(root) else _home(c.where)
        table.add_row(where, human(c.size), str(len(c.entries)), _ago(c.last_used, now),
                      c.what + (" (download)" if c.download else ""))
    ui.console.print(table)
    downloads = sum(c.size for c in found.caches if c.download)
    ui.info(f"total {human(found.total)} (hard links counted once), of which downloads "
            f"{human(downloads)}")
    for name in found.others:
        ui.info(f"not dockyard's, never removed: {_home(str(found.root / name))}")
    for user in found.users:
        ui.info(f"in use by {user}")
    ui.info("`dockyard cache clean` removes them; --keep-downloads keeps the downloads, "
            "--older-than 30d what was used since")


def _clean(found_by, engine, ui: Ui, keep: bool, older: float | None, dry: bool) -> int:
    start = time.monotonic()
    if dry:
        with ui.step("Measuring dockyard's caches") as progress:
            found = found_by(progress)
        chosen = caches.select(found, keep_downloads=keep, older_than=older, now=time.time())
        for cache, entries in chosen:
            ui.info(f"would remove {cache.name}: {len(entries)} entries, "
                    f"{human(sum(e.size for e in entries))} ({_home(cache.where)})")
        ui.ok(f"would free up to {human(sum(e.size for _, es in chosen for e in es))} "
              "(--dry-run: nothing removed)")
        return 0
    waited: list[float] = []

    def on_wait(users: list[str]) -> None:
        if not waited:
            waited.append(time.monotonic())
            ui.info("waiting for the dockyard commands using the caches to finish: "
                    + ("; ".join(users) or "another process"))
        progress("waiting for " + ("; ".join(users) or "another process"))

    with ui.step("Cleaning dockyard's caches") as progress, caches.exclusive(on_wait):
        found = found_by(progress)
        chosen = caches.select(found, keep_downloads=keep, older_than=older, now=time.time())
        freed = caches.remove(chosen, engine, progress)
    for name, n in freed.by_cache.items():
        ui.info(f"  {name}: {human(n)} freed")
    for what in freed.kept:
        ui.warn(f"kept {what}")
    left = found.total - freed.bytes
    kept = f"; {human(max(left, 0))} kept" + (" (downloads)" if keep else "") \
        if left > 0 and (keep or older is not None) else ""
    ui.ok(f"freed {human(freed.bytes)} ({freed.entries} entries, "
          f"{time.monotonic() - start:.1f} s){kept}")
    return 0


def mention_if_large(ui: Ui, engine=None) -> None:
    """After a build: one line when the caches hold more than LARGE bytes."""
    try:
        found = caches.survey(engine, timeout=20)
    except OSError:
        return
    if found.total > LARGE:
        ui.info(f"dockyard's caches hold {human(found.total)} "
                f"({_home(str(found.root))} and builder images): `dockyard cache` lists "
                "them, `dockyard cache clean` removes them")


__all__ = ["LARGE", "main", "mention_if_large", "register"]

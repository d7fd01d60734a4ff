"""`dockyard lock`: write dockyard.lock from the project's own files; `--check` for CI."""

from __future__ import annotations

import argparse
from pathlib import Path

from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("lock", help="resolve conda + PyPI into dockyard.lock",
                       description="Resolve the project into one lock (dockyard.lock).")
    p.add_argument("--project", type=Path, default=Path("."), metavar="DIR",
                   help="the project directory (default: .)")
    p.add_argument("--settings", type=Path, default=None, metavar="FILE",
                   help="deployment settings (default: DIR/dockyard.toml when present)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if dockyard.lock is missing or stale; resolves nothing")
    p.add_argument("--accept-cuda-mismatch", action="store_true",
                   help="write the lock even when its GPU packages need another CUDA than "
                        "the target's (reported as notes)")
    return p


def report_cuda(ui: Ui, review) -> None:
    """CUDA findings the lock was written with: one warning, then the details (an accepted
    mismatch is said once as accepted, never as `warning: error:`)."""
    if not review.findings:
        return
    accepted = (" (mismatch accepted: [cuda] accept-mismatch / --accept-cuda-mismatch)"
                if review.errors else "")
    ui.warn(f"{len(review.findings)} CUDA finding(s) against the target CUDA {review.target} "
            f"(from {review.target_origin}){accepted}:")
    for line in review.report(header=False).splitlines():
        ui.info(f"  {line}")


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..cuda import check_lock, pypi_metadata
    from ..fsutil import ensure_writable, write_atomic
    from ..lock.model import LOCK_FILENAME, dumps, loads
    from ..lock.resolve import inputs_hash, lock_project, summary, target_spec
    from ..sources import read_project

    root = args.project.resolve()
    path = root / LOCK_FILENAME
    spec = read_project(root, args.settings)
    if not args.check:   # now, not after minutes of resolving
        ensure_writable(root, f"the project directory (for {LOCK_FILENAME})")
    if args.check:
        if not path.exists():
            ui.warn(f"{path}: missing; run `dockyard lock`")
            return 1
        lock = loads(path.read_text(), str(path))
        if lock.inputs_hash != inputs_hash(spec):
            ui.warn(f"{path}: stale (its inputs changed since it was written); "
                    "run `dockyard lock`")
            return 1
        ui.ok(f"{path.name} is up to date")
        return 0
    with ui.step("Locking") as progress:
        lock = lock_project(spec, progress=progress)
    with ui.step("Checking CUDA") as progress:
        progress("reading the GPU packages' wheel metadata")
        lock, review = check_lock(lock, target_spec(spec, lock.target.python),
                                  metadata=pypi_metadata(), accept=args.accept_cuda_mismatch)
    report_cuda(ui, review)
    write_atomic(path, dumps(lock))
    s = summary(lock)
    ui.ok(f"wrote {path} ({s['conda']} conda, {s['pypi']} PyPI packages; "
          f"Python {lock.target.python})")
    for pin in s["git"]:
        ui.info(f"  git: {pin}")
    for note in s["notes"]:
        ui.info(f"  note: {note}")
    return 0

"""Helpers for dockyard's own tests and examples: real local bases, channels, registries.

Nothing here is a fake of the thing a test checks: these build real images,
real conda channels and real registries on this machine.
"""

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def machine_lock(path: Path) -> Iterator[None]:
    """One process at a time on this machine (parallel test runs, scripts/demo)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

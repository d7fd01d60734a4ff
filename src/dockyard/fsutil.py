"""Small filesystem effects shared by the edges.

    write_atomic(path, data)         a temporary file beside `path`, then a rename
    ensure_writable(path, what)      before long work: can `path` be written? (a DockyardError
                                     naming the cause: read-only, permission, no space)
    environment_error(exc, ...)      an OSError from the machine as a DockyardError
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import DockyardError

_CAUSES = {
    errno.EROFS: ("is on a read-only file system", "write it somewhere writable, or remount"),
    errno.EACCES: ("is not writable by this user (permission denied)",
                   "check its owner and permissions, or pick another place"),
    errno.EPERM: ("cannot be written (operation not permitted)",
                  "check its owner, permissions and attributes (chattr)"),
    errno.ENOSPC: ("cannot be written: no space left on the device",
                   "free some space (`df -h` shows where), then run again"),
    errno.EDQUOT: ("cannot be written: the disk quota is exceeded",
                   "free some space within your quota, then run again"),
    errno.ENOENT: ("does not exist", "create it first, or check the path"),
    errno.ENOTDIR: ("is not a directory", "check the path"),
}
ENVIRONMENTAL = tuple(_CAUSES)


def environment_error(exc: OSError, what: str | None = None) -> DockyardError:
    """`exc` (an OSError the machine raised) as a DockyardError with its cause and a hint."""
    where = what or exc.filename or "a file"
    cause, hint = _CAUSES.get(exc.errno or 0, (f"failed: {exc.strerror or exc}",
                                               "check the path and the machine"))
    return DockyardError(f"{where} {cause}", hint=hint)


def ensure_writable(directory: str | os.PathLike[str], what: str) -> None:
    """Fail now, before any long work, when `what` cannot be written into `directory`.

    Tries what the write will do (a temporary file in the directory): permission bits,
    read-only mounts, immutable directories and a full disk all show here."""
    directory = Path(directory)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dockyard-probe-", dir=directory)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise environment_error(exc, f"{what}: {directory}") from None


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a failed run leaves the old file."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a lock is shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

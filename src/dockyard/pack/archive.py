"""The pack's payload: a deterministic tar of an environment, gzip'd on every core.

`PayloadWriter(out)` writes a tar (PAX, entries sorted, mtime fixed, uid/gid 0,
no user or group names, group/other write bits dropped, no bytecode) through
gzip members compressed in parallel threads (a multi-member gzip stream, which
`gzip -d` and every tar read as one). While it reads each file once, it
hashes it (the pack id is a hash of the tree, not of the compressed bytes)
and looks for the placeholder prefix, recording each file that names it as
text or binary, and whether its first line is a `#!` naming it.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from ..gzmembers import GzipMembers

FIXED_MTIME = 315532800  # 1980-01-01, as in wheels
READ = 1 << 20
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True, slots=True)
class Marked:
    """A file that names the placeholder prefix."""

    path: str
    mode: Literal["text", "binary"]
    shebang: bool = False

    def to_dict(self) -> dict:
        out: dict = {"path": self.path, "mode": self.mode}
        if self.shebang:
            out["shebang"] = True
        return out


@dataclass
class TreeSummary:
    files: int = 0
    bytes: int = 0  # installed size: the sum of regular files' sizes
    marked: list[Marked] = field(default_factory=list)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    @property
    def content_id(self) -> str:
        return self.digest.hexdigest()[:16]


class _Scanning(io.RawIOBase):
    """Reads a file for tarfile while hashing it and looking for `needle`."""

    def __init__(self, fh: BinaryIO, needle: bytes, on_bytes: Callable[[int], None] | None):
        super().__init__()
        self.fh, self.needle, self.on_bytes = fh, needle, on_bytes
        self.hash = hashlib.sha256()
        self.found = False
        self.nul = False
        self.first = b""
        self.tail = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        if data:
            self.hash.update(data)
            if len(self.first) < 4096:
                self.first += data[: 4096 - len(self.first)]
            window = self.tail + data
            if not self.found and self.needle in window:
                self.found = True
            if not self.nul and b"\0" in data:
                self.nul = True
            self.tail = window[-(len(self.needle) - 1):] if len(self.needle) > 1 else b""
            if self.on_bytes:
                self.on_bytes(len(data))
        return data


def _shebang_names(first: bytes, needle: bytes) -> bool:
    if not first.startswith(b"#!"):
        return False
    return needle in first.split(b"\n", 1)[0]


class PayloadWriter:
    """`add_tree(root)`, then `add_file(...)` for the pack's own files, then `close()`."""

    def __init__(self, out: BinaryIO, *, level: int = 6, threads: int | None = None,
                 on_bytes: Callable[[int], None] | None = None):
        self.gz = GzipMembers(out, level, threads)
        self.tar = tarfile.open(fileobj=self.gz, mode="w|", format=tarfile.PAX_FORMAT)
        self.on_bytes = on_bytes
        self.summary = TreeSummary()

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = FIXED_MTIME, 0, 0, "", ""
        ti.mode = stat.S_IMODE(st.st_mode) & ~0o022
        return ti

    def add_tree(self, root: Path, placeholder: str, *, skip_top: set[str] = frozenset()
                 ) -> TreeSummary:
        """Every entry under `root`, sorted, as `./`-less relative names."""
        needle = placeholder.encode()
        seen: dict[tuple[int, int], str] = {}
        s = self.summary
        for rel, full in _walk(root, skip_top):
            st = os.lstat(full)
            ti = self._info(rel, st)
            if stat.S_ISDIR(st.st_mode):
                ti.type = tarfile.DIRTYPE
                s.digest.update(f"d {rel} {ti.mode:o}\n".encode())
                self.tar.addfile(ti)
            elif stat.S_ISLNK(st.st_mode):
                ti.type = tarfile.SYMTYPE
                ti.linkname = _relative_link(os.readlink(full), rel, root, placeholder)
                s.digest.update(f"l {rel} {ti.linkname}\n".encode())
                self.tar.addfile(ti)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen:
                    ti.type, ti.linkname = tarfile.LNKTYPE, seen[key]
                    s.digest.update(f"h {rel} {ti.linkname}\n".encode())
                    self.tar.addfile(ti)
                    marked = next((m for m in s.marked if m.path == ti.linkname), None)
                    if marked:
                        s.marked.append(Marked(rel, marked.mode, marked.shebang))
                    continue
                seen[key] = rel
                ti.size = st.st_size
                with open(full, "rb") as fh:
                    reader = _Scanning(fh, needle, self.on_bytes)
                    self.tar.addfile(ti, reader)
                s.files += 1
                s.bytes += st.st_size
                s.digest.update(f"f {rel} {ti.mode:o} {reader.hash.hexdigest()}\n".encode())
                if reader.found:
                    s.marked.append(Marked(rel, "binary" if reader.nul else "text",
                                           _shebang_names(reader.first, needle)))
            # sockets, fifos, devices: never part of an environment; left out
        return s

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = FIXED_MTIME, 0, 0, "", ""
        ti.mode, ti.size = mode, len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = FIXED_MTIME, 0, 0, "", ""
        ti.type, ti.mode = tarfile.DIRTYPE, mode
        self.tar.addfile(ti)

    def close(self) -> int:
        """Finish the stream; returns the compressed size."""
        self.tar.close()
        self.gz.close()
        return self.gz.written

    def abort(self) -> None:
        self.gz.pool.shutdown(wait=False, cancel_futures=True)


def _walk(root: Path, skip_top: set[str]):
    def rec(dirpath: str, rel: str):
        with os.scandir(dirpath) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if not rel and e.name in skip_top:
                continue
            name = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir(follow_symlinks=False):
                if e.name in SKIP_DIRS:
                    continue
                yield name, e.path
                yield from rec(e.path, name)
            elif not e.name.endswith(SKIP_SUFFIXES):
                yield name, e.path

    yield from rec(str(root), "")


def _relative_link(target: str, rel: str, root: Path, placeholder: str) -> str:
    """An absolute link into the environment made relative, so it survives relocation."""
    for base in (str(root), placeholder):
        if target == base or target.startswith(base.rstrip("/") + "/"):
            inside = target[len(base):].lstrip("/")
            return os.path.relpath(inside or ".", os.path.dirname(rel) or ".")
    return target


def tree_size(root: Path) -> int:
    """Bytes of the regular files under `root` (for progress)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for f in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total

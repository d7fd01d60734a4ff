"""Read one layer tar as a stream into a `LayerScan`: never extracted, read once.

Compressed layers (gzip, zstd) are decompressed on the fly. Large files get a
sha256 while they stream by; small metadata files (dist-info RECORD, conda-meta
records, pyvenv.cfg, kernel.json, ...) are kept; credential files are scanned
and only redacted hits are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import re
import zlib
from collections.abc import Callable
from typing import BinaryIO

from ..errors import AuditError
from .model import DIR, FILE, HARDLINK, OTHER, SYMLINK, Entry, LayerScan, SecretHit
from .secrets import scan_text, wants_scan
from .tarstream import Member, TarError, members

HASH_MIN = 256 * 1024       # files at least this big get a content hash
CHUNK = 1 << 20
BUFSIZE = 1 << 20

_CONTENT_CAPS = (
    (re.compile(r"\.dist-info/(RECORD|INSTALLER)$"), 32 << 20),
    (re.compile(r"\.dist-info/METADATA$"), 16 << 10),   # only the headers are read
    (re.compile(r"/conda-meta/[^/]+\.json$"), 64 << 20),
    (re.compile(r"/pyvenv\.cfg$"), 64 << 10),
    (re.compile(r"/kernels/[^/]+/kernel\.json$"), 64 << 10),
    (re.compile(r"/torch/version\.py$"), 64 << 10),
    (re.compile(r"^/usr/local/cuda[^/]*/version\.(json|txt)$"), 64 << 10),
    (re.compile(r"\.egg-info(/PKG-INFO)?$"), 16 << 10),
    (re.compile(r"^/var/lib/dpkg/info/[^/]+\.list$"), 16 << 20),
    (re.compile(r"^/etc/(passwd|group)$"), 1 << 20),   # who USER and the variables name
)
SECRET_CAP = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def content_cap(path: str) -> int:
    for pattern, cap in _CONTENT_CAPS:
        if pattern.search(path):
            return cap
    return 0


def normalize(name: str) -> str:
    return posixpath.normpath("/" + name.lstrip("/"))


class _Counting(io.RawIOBase):
    """A raw stream that reports how many bytes went through it."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None):
        self.raw, self.on_bytes = raw, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        if hasattr(self.raw, "readinto"):
            n = self.raw.readinto(buf)
        else:
            data = self.raw.read(len(buf))
            n = len(data)
            buf[:n] = data
        if self.on_bytes and n:
            self.on_bytes(n)
        return n


def open_layer(stream: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> BinaryIO:
    """The uncompressed tar bytes of a plain, gzip or zstd layer, as a buffered stream."""
    buffered = io.BufferedReader(_Counting(stream, on_bytes), buffer_size=BUFSIZE)
    magic = buffered.peek(4)[:4]
    if magic.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - a dependency
            raise AuditError("a layer is zstd-compressed and `zstandard` is missing",
                             hint="pip install zstandard") from exc
        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_size=BUFSIZE)
        return io.BufferedReader(reader, buffer_size=BUFSIZE)  # type: ignore[arg-type]
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def scan_layer(stream: BinaryIO, digest: str,
               on_bytes: Callable[[int], None] | None = None) -> LayerScan:
    """Read a layer tar once; see the module docstring."""
    entries: list[Entry] = []
    whiteouts: list[str] = []
    opaques: list[str] = []
    contents: dict[str, bytes] = {}
    secrets: list[SecretHit] = []
    try:
        for member in members(open_layer(stream, on_bytes)):
            path = normalize(member.name)
            base = posixpath.basename(path)
            if base.startswith(".wh."):
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    opaques.append(parent)
                else:
                    whiteouts.append(posixpath.join(parent, base[4:]))
                continue
            if member.isfile():
                entries.append(_file(member, path, contents, secrets))
            elif member.type == b"5":
                entries.append(Entry(path, DIR, mode=member.mode))
            elif member.type == b"2":
                entries.append(Entry(path, SYMLINK, link=member.linkname))
            elif member.type == b"1":
                entries.append(Entry(path, HARDLINK, link=normalize(member.linkname)))
            else:
                entries.append(Entry(path, OTHER))
    except (TarError, EOFError, OSError, ValueError, zlib.error) as exc:
        raise AuditError(f"layer {digest[:19]} is not a readable tar: {exc}",
                         hint="check that the image or archive is complete") from exc
    return LayerScan(digest=digest, entries=tuple(entries), whiteouts=tuple(whiteouts),
                     opaques=tuple(opaques), contents=contents, secrets=tuple(secrets))


def _file(member: Member, path: str, contents: dict[str, bytes],
          secrets: list[SecretHit]) -> Entry:
    size = member.size
    cap = content_cap(path)
    scan = wants_scan(path)
    if size < HASH_MIN and not cap and not scan:
        return Entry(path, FILE, size, mode=member.mode)
    f = member.data
    if size >= HASH_MIN:
        h = hashlib.sha256()
        head = b""
        keep = max(cap, SECRET_CAP if scan else 0)
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])   # hashlib releases the GIL on large buffers
            if len(head) < keep:
                head += bytes(view[: min(n, keep - len(head))])
        digest: str | None = h.hexdigest()
    else:
        head = f.read(max(cap, SECRET_CAP if scan else 0))
        digest = None
    if cap:
        contents[path] = head[:cap]
    if scan:
        secrets.extend(scan_text(path, head[:SECRET_CAP].decode("utf-8", "replace")))
    return Entry(path, FILE, size, digest, mode=member.mode)

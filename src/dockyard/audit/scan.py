"""Read one layer tar as a stream into a `LayerScan`: never extracted, read once.

Compressed layers (gzip, zstd) are decompressed on the fly. Large files get a
sha256 while they stream by; small metadata files (dist-info RECORD, conda-meta
records, pyvenv.cfg, kernel.json, ...) are kept; every file up to SECRET_CAP
is scanned for credentials (`secrets.scan_file`) and only redacted hits are kept.

The same pass hashes the layer twice: the bytes as they come (the blob's
digest, which the manifest names) and the uncompressed tar (its diff_id, which
the config lists); the source compares them with what it expects and stops on
a mismatch. What a layer makes dockyard hold in memory is charged to a
`Budget` shared by the image's layers, so that no input, however hostile,
takes more than about MEMORY_BUDGET bytes: past it, a clear AuditError.
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
from .secrets import scan_file, wants_scan
from .tarstream import Member, TarError, members

HASH_MIN = 256 * 1024       # files at least this big get a content hash
CHUNK = 1 << 20
BUFSIZE = 1 << 20

_CONTENT_CAPS = (
    (re.compile(r"\.dist-info/(RECORD|INSTALLER)$"), 32 << 20),
    (re.compile(r"\.dist-info/METADATA$"), 16 << 10),   # only the headers are read
    (re.compile(r"/conda-meta/[^/]+\.json$"), 16 << 20),
    (re.compile(r"/pyvenv\.cfg$"), 64 << 10),
    (re.compile(r"/kernels/[^/]+/kernel\.json$"), 64 << 10),
    (re.compile(r"/torch/version\.py$"), 64 << 10),
    (re.compile(r"^/usr/local/cuda[^/]*/version\.(json|txt)$"), 64 << 10),
    (re.compile(r"\.egg-info(/PKG-INFO)?$"), 16 << 10),
    (re.compile(r"^/var/lib/dpkg/info/[^/]+\.list$"), 16 << 20),
    (re.compile(r"^/opt/dockyard/sbom\.cdx\.json$"), 64 << 20),  # check compares it
    (re.compile(r"^/etc/(passwd|group)$"), 1 << 20),   # who USER and the variables name
)
SECRET_CAP = 1 << 20        # files up to this size are scanned for credentials, whole

# What the image may make dockyard hold: every entry costs about ENTRY_COST bytes (its
# Entry, its slots in the inventory's maps) plus its path; kept contents are parsed into
# Python objects later (json, csv), hence CONTENT_FACTOR. Measured: 300,000 entries of a
# docker archive peak at 136 MB for the whole `dockyard check`.
MEMORY_BUDGET = 180 << 20
ENTRY_COST = 360
CONTENT_FACTOR = 4
MAX_HITS = 2000             # secret hits kept per image; more are counted, not kept

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_WINDOW = 32 << 20


def content_cap(path: str) -> int:
    for pattern, cap in _CONTENT_CAPS:
        if pattern.search(path):
            return cap
    return 0


def normalize(name: str) -> str:
    return posixpath.normpath("/" + name.lstrip("/"))


class Budget:
    """The memory one image may make dockyard hold, shared by its layers and documents."""

    def __init__(self, limit: int = MEMORY_BUDGET, what: str = "the image"):
        self.left, self.limit, self.what = limit, limit, what
        self.hits = 0

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise AuditError(
                f"{self.what} lists more files and metadata than `dockyard check` holds in "
                f"memory (about {self.limit >> 20} MiB of it): stopped there rather than "
                "exhaust the machine",
                hint="dockyard check audits images of up to about 400,000 files (with "
                     "paths of usual length); this one is larger, or made to exhaust memory")


class _Hashing(io.RawIOBase):
    """A raw stream that hashes and counts what goes through it."""

    def __init__(self, raw: BinaryIO, algo: str | None = "sha256",
                 on_bytes: Callable[[int], None] | None = None):
        self.raw, self.on_bytes = raw, on_bytes
        self.hash = hashlib.new(algo) if algo else None   # None: count only
        self.algo = algo
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        if hasattr(self.raw, "readinto"):
            n = self.raw.readinto(buf)
        else:
            data = self.raw.read(len(buf))
            n = len(data)
            buf[:n] = data
        if n:
            if self.hash is not None:
                self.hash.update(memoryview(buf)[:n])
            self.count += n
            if self.on_bytes:
                self.on_bytes(n)
        return n or 0

    def digest(self) -> str | None:
        return f"{self.algo}:{self.hash.hexdigest()}" if self.hash is not None else None

    def drain(self) -> None:
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass


def open_layer(stream: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> BinaryIO:
    """The uncompressed tar bytes of a plain, gzip or zstd layer, as a buffered stream."""
    return _open(io.BufferedReader(_Hashing(stream, on_bytes=on_bytes), buffer_size=BUFSIZE))


def _open(buffered: io.BufferedReader) -> BinaryIO:
    magic = buffered.peek(4)[:4]
    if magic.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - a dependency
            raise AuditError("a layer is zstd-compressed and `zstandard` is missing",
                             hint="pip install zstandard") from exc
        # a frame may ask for a window of up to 2 GiB: 32 MiB is what zstd's levels use
        # (up to --ultra -22), and what keeps a hostile header from taking the memory
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW).stream_reader(
            buffered, read_size=BUFSIZE, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=BUFSIZE)  # type: ignore[arg-type]
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def scan_layer(stream: BinaryIO, digest: str,
               on_bytes: Callable[[int], None] | None = None, *,
               budget: Budget | None = None, blob_algo: str = "sha256",
               diff_algo: str = "sha256") -> LayerScan:
    """Read a layer tar once; see the module docstring. `digest` names it in messages.

    The LayerScan's `blob_digest` is the digest of the bytes read (`blob_algo`), its
    `diff_id` that of the uncompressed tar (`diff_algo`): the caller compares them."""
    budget = budget or Budget(what=f"layer {digest[:19]}")
    entries: list[Entry] = []
    whiteouts: list[str] = []
    opaques: list[str] = []
    contents: dict[str, bytes] = {}
    secrets: list[SecretHit] = []
    blob = _Hashing(stream, blob_algo, on_bytes)
    try:
        buffered = io.BufferedReader(blob, buffer_size=BUFSIZE)
        inner = _open(buffered)
        same = inner is buffered and diff_algo == blob_algo   # not compressed: hash once
        tar = _Hashing(inner, None if same else diff_algo)
        for member in members(io.BufferedReader(tar, buffer_size=BUFSIZE)):
            path = normalize(member.name)
            budget.take(ENTRY_COST + len(path) + len(member.linkname))
            base = posixpath.basename(path)
            if base.startswith(".wh."):
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    opaques.append(parent)
                else:
                    whiteouts.append(posixpath.join(parent, base[4:]))
                continue
            if member.isfile():
                entries.append(_file(member, path, contents, secrets, budget))
            elif member.type == b"5":
                entries.append(Entry(path, DIR, mode=member.mode))
            elif member.type == b"2":
                entries.append(Entry(path, SYMLINK, link=member.linkname))
            elif member.type == b"1":
                entries.append(Entry(path, HARDLINK, link=normalize(member.linkname)))
            else:
                entries.append(Entry(path, OTHER))
        tar.drain()    # what follows the end-of-archive blocks counts in the diff_id
        blob.drain()   # and what follows the compressed stream, in the blob's digest
    except read_errors() as exc:
        raise AuditError(f"layer {digest[:19]} is not a readable tar: {_reason(exc)}",
                         hint="check that the image or archive is complete") from None
    return LayerScan(digest=digest, entries=tuple(entries), whiteouts=tuple(whiteouts),
                     opaques=tuple(opaques), contents=contents, secrets=tuple(secrets),
                     diff_id=blob.digest() if same else tar.digest(),
                     blob_digest=blob.digest())


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged or hostile layer can raise (all become an AuditError)."""
    errors: tuple[type[BaseException], ...] = (TarError, EOFError, OSError, ValueError,
                                                zlib.error, MemoryError)
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a dependency
        return errors
    return (*errors, zstandard.ZstdError)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "it needs more memory than this machine has"
    if isinstance(exc, zlib.error) or type(exc).__name__ == "ZstdError":
        return f"corrupt compressed data ({exc})"
    if isinstance(exc, EOFError):
        return f"the compressed stream ends early ({exc})"
    return str(exc) or type(exc).__name__


def _file(member: Member, path: str, contents: dict[str, bytes],
          secrets: list[SecretHit], budget: Budget) -> Entry:
    size = member.size
    cap = content_cap(path)
    scan = size <= SECRET_CAP or wants_scan(path)
    if size == 0 or (size >= HASH_MIN and not cap and not scan):
        if size >= HASH_MIN:
            return Entry(path, FILE, size, _hash_only(member.data), mode=member.mode)
        return Entry(path, FILE, size, mode=member.mode)
    f = member.data
    keep = max(cap, SECRET_CAP if scan else 0)
    if size >= HASH_MIN:
        h = hashlib.sha256()
        head = bytearray()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])   # hashlib releases the GIL on large buffers
            if len(head) < keep:
                head += view[: min(n, keep - len(head))]
        digest: str | None = h.hexdigest()
        data = bytes(head)
    else:
        data = f.read(min(size, keep))
        digest = None
    if cap:
        budget.take(CONTENT_FACTOR * min(len(data), cap))
        contents[path] = data[:cap]
    if scan:
        for hit in scan_file(path, data[:SECRET_CAP]):
            budget.hits += 1
            if budget.hits <= MAX_HITS:
                secrets.append(hit)
    return Entry(path, FILE, size, digest, mode=member.mode)


def _hash_only(f: BinaryIO) -> str:
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := f.readinto(buf):
        h.update(view[:n])
    return h.hexdigest()

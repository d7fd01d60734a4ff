"""A forward-only tar reader for layers and image archives, faster than `tarfile`'s stream mode.

`tarfile` in `r|` mode re-slices its whole buffer on every header read, which
costs more than the I/O on layers with many small files. This reader parses
ustar, GNU (long names, base-256 sizes) and pax headers, and hands out each
member's data as a bounded stream that is skipped if the caller does not read it.

Nothing is read whole without a cap: a long-name header (`L`, `K`) holds at
most MAX_LONG_NAME bytes and a pax header (`x`, `g`) MAX_PAX, so a 1 GiB name
gzipped to 1 MB is refused after reading its header block, not held in memory.
Malformed input (bad checksum, a negative or absurd size, a broken pax record,
a header cut short) raises TarError with what was wrong.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 512
CHUNK = 1 << 20
MAX_LONG_NAME = 64 << 10      # GNU long name or link name (PATH_MAX is 4096)
MAX_PAX = 1 << 20             # one pax header, all its records together
MAX_SIZE = 1 << 44            # 16 TiB: a member size beyond it is a corrupt header


class TarError(ValueError):
    """The stream is not a tar we can read."""


@dataclass(slots=True)
class Member:
    name: str
    type: bytes          # b"0" file, b"5" dir, b"2" symlink, b"1" hardlink, ...
    size: int
    linkname: str
    data: BinaryIO       # at most `size` bytes; skipped when the next member is read
    mode: int = 0        # permission bits (0o7777) as the header says

    def isfile(self) -> bool:
        return self.type in (b"0", b"\0", b"7")


class _Bounded(io.RawIOBase):
    def __init__(self, src: BinaryIO, size: int):
        self.src, self.left = src, size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        n = min(len(buf), self.left)
        if n <= 0:
            return 0
        got = self.src.readinto(memoryview(buf)[:n])
        if not got:
            raise TarError("unexpected end of data inside a tar member")
        self.left -= got
        return got

    def skip(self) -> None:
        buf = bytearray(min(CHUNK, max(self.left, 1)))
        while self.left > 0:
            self.readinto(buf)


_EMPTY = io.BufferedReader(io.BytesIO(b""))   # always at its end: safe to share


def _octal(field: bytes, what: str = "number") -> int:
    if field[:1] and field[0] & 0x80:   # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError(f"bad {what} field {text[:20]!r} in a tar header") from None


def _str(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """`LEN KEY=VALUE\\n` records; anything else is a TarError (never a loop or a crash)."""
    out, pos = {}, 0
    while pos < len(data):
        if data[pos:].strip(b"\0\n ") == b"":
            break   # padding some writers leave
        space = data.find(b" ", pos, pos + 20)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarError("malformed pax record (no length)")
        length = int(digits)
        end = pos + length
        if length <= len(digits) + 1 or end > len(data) or data[end - 1: end] != b"\n":
            raise TarError("malformed pax record (bad length)")
        key, eq, value = data[space + 1: end - 1].partition(b"=")
        if not eq:
            raise TarError("malformed pax record (no '=')")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return out


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    while len(data) < n:
        more = src.read(n - len(data))
        if not more:
            break
        data += more
    return data


def _size(value: int, what: str) -> int:
    if value < 0 or value > MAX_SIZE:
        raise TarError(f"{what} of {value} bytes in a tar header")
    return value


def members(src: BinaryIO) -> Iterator[Member]:
    """Each member in order. `src` should be buffered (io.BufferedReader)."""
    pending: dict[str, str] = {}
    while True:
        header = _read_exact(src, BLOCK)
        if not header or header == b"\0" * BLOCK:
            return
        if len(header) < BLOCK:
            raise TarError("the archive ends inside a header (truncated)")
        chk = sum(header[:148]) + 8 * 32 + sum(header[156:])
        if _octal(header[148:156], "checksum") != chk:
            raise TarError("bad tar header checksum")
        kind = header[156:157]
        size = _size(_octal(header[124:136], "size"), "a size")
        padded = size + (-size % BLOCK)
        if kind in (b"x", b"g", b"L", b"K"):
            cap = MAX_PAX if kind in (b"x", b"g") else MAX_LONG_NAME
            if size > cap:
                what = "pax header" if kind in (b"x", b"g") else "long name"
                raise TarError(f"a {what} of {size} bytes (at most {cap} are read)")
            block = _read_exact(src, padded)
            if len(block) < padded:
                raise TarError("the archive ends inside an extended header (truncated)")
            data = block[:size]
            if kind == b"x":
                pending.update(_pax(data))
            elif kind == b"g":
                _pax(data)   # checked, not applied: no reader here needs global defaults
            elif kind == b"L":
                pending["path"] = _str(data)
            elif kind == b"K":
                pending["linkpath"] = _str(data)
            continue
        name = _str(header[0:100])
        if header[257:263] == b"ustar\0" and header[345:346] != b"\0":
            name = _str(header[345:500]) + "/" + name
        name = pending.get("path", name)
        link = pending.get("linkpath", _str(header[157:257]))
        if "size" in pending:
            if not pending["size"].isdigit():
                raise TarError(f"pax size {pending['size'][:20]!r} is not a number")
            size = _size(int(pending["size"]), "a pax size")
            padded = size + (-size % BLOCK)
        pending = {}
        has_data = kind not in (b"1", b"2", b"3", b"4", b"5", b"6")
        mode = _octal(header[100:108]) & 0o7777
        if not has_data or size == 0:   # most members: no stream to make
            yield Member(name=name, type=kind, size=0, linkname=link, data=_EMPTY, mode=mode)
            continue
        body = _Bounded(src, size)
        yield Member(name=name, type=kind, size=size, linkname=link,
                     data=io.BufferedReader(body, buffer_size=min(CHUNK, max(size, BLOCK))),
                     mode=mode)
        body.skip()
        if has_data:
            pad = padded - size
            if pad and len(_read_exact(src, pad)) < pad:
                raise TarError("the archive ends inside a member's padding (truncated)")

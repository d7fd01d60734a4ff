"""A forward-only tar reader for layers and image archives, faster than `tarfile`'s stream mode.

`tarfile` in `r|` mode re-slices its whole buffer on every header read, which
costs more than the I/O on layers with many small files. This reader parses
ustar, GNU (long names, base-256 sizes) and pax headers, and hands out each
member's data as a bounded stream that is skipped if the caller does not read it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 512
CHUNK = 1 << 20


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


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:   # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    return int(text, 8) if text else 0


def _str(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out, pos = {}, 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        record = data[space + 1: pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    while len(data) < n:
        more = src.read(n - len(data))
        if not more:
            break
        data += more
    return data


def members(src: BinaryIO) -> Iterator[Member]:
    """Each member in order. `src` should be buffered (io.BufferedReader)."""
    pending: dict[str, str] = {}
    while True:
        header = _read_exact(src, BLOCK)
        if len(header) < BLOCK or header == b"\0" * BLOCK:
            return
        chk = sum(header[:148]) + 8 * 32 + sum(header[156:])
        if _octal(header[148:156]) != chk:
            raise TarError("bad tar header checksum")
        kind = header[156:157]
        size = _octal(header[124:136])
        padded = size + (-size % BLOCK)
        if kind in (b"x", b"g", b"L", b"K"):
            data = _read_exact(src, padded)[:size]
            if kind == b"x":
                pending.update(_pax(data))
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
            size = int(pending["size"])
            padded = size + (-size % BLOCK)
        pending = {}
        has_data = kind not in (b"1", b"2", b"3", b"4", b"5", b"6")
        body = _Bounded(src, size if has_data else 0)
        yield Member(name=name, type=kind, size=size if has_data else 0, linkname=link,
                     data=io.BufferedReader(body, buffer_size=min(CHUNK, max(size, BLOCK))),
                     mode=_octal(header[100:108]) & 0o7777)
        body.skip()
        if has_data:
            pad = padded - size
            if pad:
                _read_exact(src, pad)

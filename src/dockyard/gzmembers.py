"""gzip on every core, with the same bytes whatever the number of cores.

    with GzipMembers(raw, level) as gz:   # a write-only binary stream
        gz.write(data)

What is written is cut into blocks of `BLOCK` bytes; each block becomes one
gzip member (mtime 0, no file name), compressed in a thread (zlib lets go of
the GIL), and the members are written to `raw` in order. A multi-member gzip
stream reads as one with `gzip -d`, tar, Python's gzip and Go's compress/gzip
(Podman, Docker, containerd, registries). The cut depends only on `BLOCK`, not
on the threads, so the same input gives the same output on any machine with
the same zlib: image layers keep their digest.
"""

from __future__ import annotations

import gzip
import io
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

BLOCK = 8 << 20  # bytes of input per gzip member


class GzipMembers(io.RawIOBase):
    """A write-only stream: blocks compressed as gzip members in threads, written in order."""

    def __init__(self, raw: BinaryIO, level: int, threads: int | None = None):
        super().__init__()
        threads = threads or max(1, os.cpu_count() or 1)
        self.raw, self.level = raw, level
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dockyard-gzip")
        self.pending: deque[Future[bytes]] = deque()
        self.window = 2 * threads
        self.buf = bytearray()
        self.written = 0  # compressed bytes written so far

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.buf += data
        while len(self.buf) >= BLOCK:
            self._submit(bytes(self.buf[:BLOCK]))
            del self.buf[:BLOCK]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self.pending.append(self.pool.submit(gzip.compress, block, self.level, mtime=0))
        while len(self.pending) > self.window:
            self._drain_one()

    def _drain_one(self) -> None:
        data = self.pending.popleft().result()
        self.raw.write(data)
        self.written += len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.buf or not self.written and not self.pending:
                self._submit(bytes(self.buf))
                self.buf.clear()
            while self.pending:
                self._drain_one()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            super().close()


__all__ = ["BLOCK", "GzipMembers"]

"""Helpers to run dockyard as a real process and look at what it leaves behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

DOCKYARD = [sys.executable, "-c", "from dockyard.cli import run; run()"]

# `dockyard` that prints its own peak RSS (VmHWM) last, on stderr. Measured inside: a
# child's ru_maxrss starts at its parent's RSS at fork (the kernel keeps the old
# mm's high-water mark across exec), so from a 350 MB pytest it reads 350 MB at least.
_HWM = ("import atexit, sys\n"
        "def hwm():\n"
        "    status = open('/proc/self/status').read()\n"
        "    print('VmHWM_KIB', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
        "atexit.register(hwm)\n"
        "from dockyard.cli import run\n"
        "run()\n")
DOCKYARD_MEASURED = [sys.executable, "-c", _HWM]


def peak_of(output: str) -> int:
    """The peak RSS in bytes that DOCKYARD_MEASURED printed."""
    for line in reversed(output.splitlines()):
        if line.startswith("VmHWM_KIB "):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in the output:\n{output[-2000:]}")


def children(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, parent in parents.items():
            if parent == p:
                out.append(c)
                todo.append(c)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path("/proc", str(pid), "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(what: Callable[[], object], timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


def start(args: list[str], cwd: Path, tmp: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen:
    """`dockyard ARGS` in `cwd`, its temporary folders under `tmp`, in its own session
    (a signal to it never reaches the test runner)."""
    full = {**os.environ, "TMPDIR": str(tmp), **(env or {})}
    return subprocess.Popen([*DOCKYARD, *args], cwd=cwd, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(proc: subprocess.Popen, sig: int, timeout: float = 30) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def kill_tree(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class HangingIndex:
    """A loopback HTTP server that accepts connections and never answers: uv waits on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()

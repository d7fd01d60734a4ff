"""Where a deploy runs its steps: a host over OpenSSH, or this machine's own directory.

A step is a POSIX sh script, the same text for both: `SshTarget` runs
`ssh [-F CONFIG] [-o OPT...] DEST sh -c 'SCRIPT'` with the user's own ssh
(keys, agent, ~/.ssh/config, ProxyJump...), never asking for a password
(BatchMode); `LocalTarget` runs `sh -c SCRIPT` here. A script's standard
input may be a file (the pack), streamed with a byte count for progress.
Nothing secret is ever on these command lines: a pack holds no credential,
and the scripts name only paths.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..redact import redact

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Target(Protocol):
    name: str

    def run(self, script: str, *, stdin: Path | bytes | None = None,
            on_bytes: Callable[[int], None] | None = None,
            on_line: Callable[[str], None] | None = None,
            timeout: float | None = None) -> Result: ...

    def describe(self) -> str: ...


def _run(argv: list[str], stdin: Path | bytes | None, on_bytes, on_line,
         timeout: float | None) -> Result:
    from .. import lifecycle

    with lifecycle.child(argv, what=f"`{argv[0]}` of dockyard deploy",
                         stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        return _talk(proc, stdin, on_bytes, on_line, timeout)


def _talk(proc: subprocess.Popen, stdin: Path | bytes | None, on_bytes, on_line,
          timeout: float | None) -> Result:
    errors: list[bytes] = []
    out: list[str] = []

    def feed() -> None:
        assert proc.stdin is not None
        try:
            if isinstance(stdin, bytes):
                proc.stdin.write(stdin)
            else:
                with open(stdin, "rb") as fh:  # type: ignore[arg-type]
                    while chunk := fh.read(CHUNK):
                        proc.stdin.write(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
        except (BrokenPipeError, OSError):
            pass  # the remote side ended early: its exit status says why
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def drain_err() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            errors.append(raw)
            if on_line:
                on_line(redact(raw.decode(errors="replace").rstrip("\n")))

    threads = [threading.Thread(target=drain_err, daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        out.append(line)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    for t in threads:
        t.join(timeout=5)
    return Result(code, "".join(out), b"".join(errors).decode(errors="replace"))


@dataclass(frozen=True)
class SshTarget:
    """`DEST` as OpenSSH takes it: `host`, `user@host`, `ssh://user@host:port`."""

    name: str
    config: str | None = None  # -F FILE
    options: tuple[str, ...] = field(default=())  # -o KEY=VALUE

    def argv(self, script: str) -> list[str]:
        args = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if self.config:
            args += ["-F", self.config]
        for opt in self.options:
            args += ["-o", opt]
        return [*args, "--", self.name, "sh -c " + shlex.quote(script)]

    def run(self, script, *, stdin=None, on_bytes=None, on_line=None, timeout=None) -> Result:
        return _run(self.argv(script), stdin, on_bytes, on_line, timeout)

    def describe(self) -> str:
        return f"{self.name} (ssh)"


@dataclass(frozen=True)
class LocalTarget:
    """This machine: the prefix is a plain local directory."""

    name: str = "local"

    def run(self, script, *, stdin=None, on_bytes=None, on_line=None, timeout=None) -> Result:
        return _run(["sh", "-c", script], stdin, on_bytes, on_line, timeout)

    def describe(self) -> str:
        return f"this machine ({os.uname().nodename})"


def target_of(dest: str, *, config: str | None = None,
              options: tuple[str, ...] = ()) -> SshTarget | LocalTarget:
    """`local` is this machine; anything else is an ssh destination (`ssh://local` if a
    host is really called local)."""
    if dest == "local":
        return LocalTarget()
    return SshTarget(dest, config, options)

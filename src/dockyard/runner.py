"""Subprocesses behind a small Protocol, so unit tests can fake them.

`SubprocessRunner` is the real one; `FakeRunner` answers from a table and
records the calls. Every command line is redacted before it is logged or
put into an error.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import lifecycle
from .redact import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Completed: ...


def which(name: str) -> str | None:
    """Find a tool lazily: next to our interpreter first (uv from its wheel), then PATH."""
    import sys

    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which(name)


class SubprocessRunner:
    """Runs a command; with `on_line`, streams stdout+stderr line by line (for progress).

    Every child goes through `lifecycle.child`: its own process group, killed with
    its group when dockyard stops or the call fails (a timeout raises
    subprocess.TimeoutExpired after the kill, as `subprocess.run` does). Its stdin is
    /dev/null unless `input` is given: a child never reads dockyard's terminal.
    """

    def __call__(self, args, *, cwd=None, env=None, input=None, timeout=None, on_line=None):
        args = tuple(str(a) for a in args)
        full_env = {**os.environ, **env} if env is not None else None
        log.debug("run: %s", redact(" ".join(args)))
        stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
        if on_line is None:
            with lifecycle.child(args, cwd=cwd, env=full_env, stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) as proc:
                out, err = proc.communicate(input, timeout=timeout)
            return Completed(args, proc.returncode, out, err)
        lines: list[str] = []
        with lifecycle.child(args, cwd=cwd, env=full_env, stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
            if input is not None:
                assert proc.stdin is not None
                proc.stdin.write(input)
                proc.stdin.close()
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                on_line(redact(line.rstrip("\n")))
            code = proc.wait(timeout=timeout)
        out = "".join(lines)
        return Completed(args, code, out, out)


@dataclass
class FakeRunner:
    """Answers each call from `answers` (first matching prefix wins) and records it."""

    answers: list[tuple[tuple[str, ...], Completed]] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, prefix: Sequence[str], stdout: str = "", returncode: int = 0, stderr: str = ""):
        self.answers.append((tuple(prefix), Completed(tuple(prefix), returncode, stdout, stderr)))
        return self

    def __call__(self, args, *, cwd=None, env=None, input=None, timeout=None, on_line=None):
        args = tuple(str(a) for a in args)
        self.calls.append(args)
        for prefix, answer in self.answers:
            if args[: len(prefix)] == prefix:
                if on_line:
                    for line in answer.stdout.splitlines():
                        on_line(line)
                return Completed(args, answer.returncode, answer.stdout, answer.stderr)
        raise AssertionError(f"FakeRunner: no answer for {args!r}")

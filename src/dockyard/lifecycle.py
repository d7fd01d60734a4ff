"""Children die with dockyard, and what it made is removed however it stops.

The interface (every command gets it through the CLI, which opens one session):

    with lifecycle.session():                 # cli/__init__.py, once around a command
        ...

    with lifecycle.child(argv, **popen_kwargs) as proc:   # a subprocess.Popen
        out, err = proc.communicate(timeout=...)
    with lifecycle.temp_dir("dockyard-uv-") as path:      # a pathlib.Path
        ...
    with lifecycle.on_exit(["podman", "rm", "-f", name], what=f"container {name}"):
        ...                                   # the command runs when the block ends
    handle = lifecycle.register_command(argv, what)       # the same, without a block;
    lifecycle.release(handle, run=True)                   #   run it (or not) and forget it

What each piece guarantees:

- `child` starts the command in its own process group, so a Ctrl-C at the
  terminal reaches dockyard alone and dockyard decides. If the block ends by an
  exception (an error, a timeout, Ctrl-C, SIGTERM), the whole group gets
  SIGTERM, then SIGKILL after `grace` seconds: uv's build processes and
  podman's helpers go with it. Started from the main thread, the child also
  has PR_SET_PDEATHSIG=SIGKILL: it dies if dockyard is SIGKILLed. (The
  kernel ties that signal to the *thread* that forked: from another thread it
  is not set, and the watchdog below covers it.) Use it, or `runner.
  SubprocessRunner`, for every child; never plain `subprocess`.
- `temp_dir` and `on_exit` undo what they made when their block ends, in
  reverse order, whatever ends it.
- `session()` turns SIGINT, SIGTERM and SIGHUP into `Interrupted` (a
  KeyboardInterrupt carrying `signum`) in the main thread, so every `finally`
  and `with` above runs; a second signal while dockyard cleans up is noted and
  ignored. At the end of the session anything still registered is undone.
  The first registration starts a watchdog (a small process in its own
  session) that holds the same list: if dockyard dies without cleaning up
  (SIGKILL, the OOM killer), the watchdog kills the process groups, runs the
  commands and removes the folders. Without a session (library use, tests
  calling functions directly) the blocks still clean up; there is no signal
  handler and no watchdog.

`Interrupted.exit_code` is 128 + the signal number (130 for Ctrl-C, 143 for
SIGTERM), what shells report.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE = 5.0           # seconds between SIGTERM and SIGKILL for a child's group
COMMAND_TIMEOUT = 60  # a cleanup command (podman rm) may not hang the exit


class Interrupted(KeyboardInterrupt):
    """dockyard was asked to stop by a signal; cleanup runs as the exception unwinds."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


@dataclass(frozen=True, slots=True)
class Handle:
    id: int
    kind: str          # "group", "dir", "command"
    value: object      # pgid, path, argv
    what: str


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.items: dict[int, Handle] = {}
        self.ids = itertools.count(1)
        self.watchdog: subprocess.Popen | None = None
        self.no_watchdog = False
        self.cleaning = False
        self.pipe: int | None = None
        self.sessions = 0
        self.stopping: int | None = None
        self.saved: dict[int, object] = {}

    def add(self, kind: str, value: object, what: str) -> Handle:
        with self.lock:
            handle = Handle(next(self.ids), kind, value, what)
            self.items[handle.id] = handle
            self._tell({"op": "add", "id": handle.id, "kind": kind, "value": value})
            return handle

    def remove(self, handle: Handle) -> bool:
        with self.lock:
            if self.items.pop(handle.id, None) is None:
                return False
            self._tell({"op": "del", "id": handle.id})
            return True

    def _tell(self, message: dict) -> None:
        if self.sessions and self.watchdog is None and not self.no_watchdog:
            self._start_watchdog()
        if self.pipe is None:
            return
        try:
            os.write(self.pipe, (json.dumps(message) + "\n").encode())
        except OSError:   # the watchdog is gone: we still clean up ourselves
            os.close(self.pipe)
            self.pipe = None

    def _start_watchdog(self) -> None:
        read, write = os.pipe()
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG], stdin=read,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                start_new_session=True)
        except OSError as exc:
            log.debug("no watchdog: %s", exc)
            os.close(write)
            self.no_watchdog = True
            return
        finally:
            os.close(read)
        self.pipe = write
        for handle in self.items.values():
            self._tell({"op": "add", "id": handle.id, "kind": handle.kind,
                        "value": handle.value})

    def stop_watchdog(self) -> None:
        with self.lock:
            if self.pipe is not None:
                os.close(self.pipe)
                self.pipe = None
            proc, self.watchdog = self.watchdog, None
        if proc is not None:
            try:
                proc.wait(timeout=COMMAND_TIMEOUT if self.items else 2)
            except subprocess.TimeoutExpired:
                pass


_registry = _Registry()


# ---- the session (the CLI's) ---------------------------------------------------------------

@contextlib.contextmanager
def session() -> Iterator[None]:
    """Signals raise `Interrupted`; leftovers are undone at the end; a watchdog covers SIGKILL."""
    main = threading.current_thread() is threading.main_thread()
    reg = _registry
    first = reg.sessions == 0
    reg.sessions += 1
    if first:
        reg.stopping, reg.cleaning, reg.no_watchdog = None, False, False
        if main:
            for sig in SIGNALS:
                reg.saved[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        reg.sessions -= 1
        if first:
            reg.cleaning = True
            try:
                undo_all()
            finally:
                reg.stop_watchdog()
                if main:
                    for sig, old in reg.saved.items():
                        signal.signal(sig, old)  # type: ignore[arg-type]
                    reg.saved.clear()


def _on_signal(signum: int, frame) -> None:
    reg = _registry
    if reg.stopping is not None or reg.cleaning:
        log.warning("%s received: already stopping, cleaning up first (send SIGKILL to "
                    "force; what is left is then removed by dockyard's watchdog)",
                    signal.Signals(signum).name)
        return
    reg.stopping = signum
    raise Interrupted(signum)


def stopping() -> int | None:
    """The signal that asked dockyard to stop, once one has."""
    return _registry.stopping


def undo_all() -> None:
    """Undo everything still registered, newest first (kill groups, run commands, rm dirs)."""
    with _deferred_signals():
        with _registry.lock:
            items = sorted(_registry.items.values(), key=lambda h: -h.id)
    for handle in items:
        release(handle, run=True)


def release(handle: Handle, *, run: bool) -> None:
    """Forget `handle`; with `run`, undo it first (a failure is logged, never raised)."""
    if not _registry.remove(handle) or not run:
        return
    try:
        if handle.kind == "group":
            _kill_group(int(handle.value))  # type: ignore[call-overload]
        elif handle.kind == "dir":
            shutil.rmtree(str(handle.value), ignore_errors=True)
        elif handle.kind == "command":
            done = subprocess.run(list(handle.value), capture_output=True,  # type: ignore[call-overload]
                                  timeout=COMMAND_TIMEOUT, check=False, start_new_session=True)
            if done.returncode != 0:
                log.warning("could not remove %s: `%s` failed", handle.what,
                            " ".join(handle.value))  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not remove %s: %s", handle.what, exc)


# ---- children --------------------------------------------------------------------------------

@contextlib.contextmanager
def _deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back (they are delivered at the end): for the few lines that
    must not be split, such as starting a child and registering it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


def _child_setup(parent: int, pdeathsig: bool) -> Callable[[], None]:
    global _libc
    if pdeathsig and _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            pdeathsig = False

    def setup() -> None:  # runs in the child between fork and exec: keep it tiny
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        if pdeathsig and _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:   # the parent died before prctl: die now
                os._exit(137)

    return setup


@contextlib.contextmanager
def child(args: Sequence[str], *, grace: float = GRACE, what: str | None = None,
          **popen: object) -> Iterator[subprocess.Popen]:
    """A subprocess in its own process group, killed with its group if the block fails.

    `popen` takes subprocess.Popen's keyword arguments (stdin, stdout, cwd, env, text...);
    `start_new_session`, `process_group` and `preexec_fn` are this function's. When the
    block ends normally the child is waited for, as `with Popen(...)` does.
    """
    main = threading.current_thread() is threading.main_thread()
    argv = [str(a) for a in args]
    with _deferred_signals():
        proc = subprocess.Popen(argv, process_group=0,  # type: ignore[call-overload]
                                preexec_fn=_child_setup(os.getpid(), main), **popen)
        handle = _registry.add("group", proc.pid, what or os.path.basename(argv[0]))
    done = False
    try:
        yield proc
        _close(proc)
        proc.wait()
        done = True
    finally:
        if not done:
            _stop(proc, grace)
            _close(proc)
        release(handle, run=False)


def _close(proc: subprocess.Popen) -> None:
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the child's group, SIGKILL after `grace` seconds; reaped."""
    with _deferred_signals():
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _kill_group(pgid: int, grace: float = GRACE) -> None:
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _signal_group(pgid, 0):
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


# ---- things to remove ------------------------------------------------------------------------

@contextlib.contextmanager
def temp_dir(prefix: str = "dockyard-", dir: str | os.PathLike[str] | None = None
             ) -> Iterator[Path]:
    """A new temporary folder, removed when the block ends (or by the watchdog)."""
    with _deferred_signals():
        path = tempfile.mkdtemp(prefix=prefix, dir=dir)
        handle = _registry.add("dir", path, f"temporary folder {path}")
    try:
        yield Path(path)
    finally:
        release(handle, run=True)


def register_command(argv: Sequence[str], what: str) -> Handle:
    """Run `argv` at the end (of the session, or by the watchdog) unless released first."""
    return _registry.add("command", [str(a) for a in argv], what)


@contextlib.contextmanager
def on_exit(argv: Sequence[str], what: str) -> Iterator[Handle]:
    """Run `argv` (e.g. `podman rm -f NAME`) when the block ends, however it ends."""
    with _deferred_signals():
        handle = register_command(argv, what)
    try:
        yield handle
    finally:
        release(handle, run=True)


@contextlib.contextmanager
def on_failure(argv: Sequence[str], what: str) -> Iterator[Handle]:
    """Run `argv` only if the block ends by an exception (a signal included)."""
    with _deferred_signals():
        handle = register_command(argv, what)
    ok = False
    try:
        yield handle
        ok = True
    finally:
        release(handle, run=not ok)


def pending() -> list[Handle]:
    """What is registered now (for tests and diagnostics)."""
    with _registry.lock:
        return list(_registry.items.values())


# The watchdog: reads registrations on stdin; at EOF undoes what is left, newest first.
_WATCHDOG = r"""
import json, os, shutil, signal, subprocess, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
items = {}
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("op") == "add":
        items[m["id"]] = (m["kind"], m["value"])
    elif m.get("op") == "del":
        items.pop(m["id"], None)
def alive(g):
    try:
        os.killpg(g, 0)
        return True
    except OSError:
        return False
groups = [v for k, v in items.values() if k == "group"]
for g in groups:
    try:
        os.killpg(g, signal.SIGTERM)
    except OSError:
        pass
deadline = time.monotonic() + 5
while time.monotonic() < deadline and any(alive(g) for g in groups):
    time.sleep(0.05)
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
for i in sorted(items, reverse=True):
    kind, value = items[i]
    try:
        if kind == "command":
            subprocess.run(value, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
        elif kind == "dir":
            shutil.rmtree(value, ignore_errors=True)
    except Exception:
        pass
"""


__all__ = ["GRACE", "Handle", "Interrupted", "child", "on_exit", "on_failure", "pending",
           "register_command",
           "release", "session", "stopping", "temp_dir", "undo_all"]

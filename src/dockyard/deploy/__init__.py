"""dockyard.deploy: a pack installed on hosts, proved, then switched in; or rolled back.

    deploy(pack, targets, root, lock) -> [HostResult]
    rollback(targets, root) -> [HostResult]

Per host, in parallel (each host on its own: one failing changes no other):
1. state: the host's system, its `current`/`previous` links (remote.state);
2. the pack's environment at ROOT/<pack id>: reused when it is already there
   and passes its check, else the pack is streamed over ssh's standard input
   and unpacked there (remote.install) beside the current one;
3. proof, before anything is switched: the environment's self-check (verify's
   import and version checks, run by the environment's own interpreter on
   the host), then its inventory (`dockyard.cluster.inventory`, the same as
   `dockyard cluster check`) compared with the lock;
4. switch: `previous` -> the old current, `current` -> the new one, each by an
   atomic rename; versions other than these two are removed.
With `all_or_none`, step 4 waits for every host's proof and is skipped
everywhere when one fails. Nothing of the git credential is involved: the
pack was built here, and the hosts receive only its bytes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..errors import DeployError
from . import remote
from .transport import LocalTarget, Result, SshTarget, Target, target_of

Progress = Callable[[str, str], None]  # (host, line)
_T = TypeVar("_T")
STOP_WAIT = 30.0  # seconds to wait for the hosts' threads once dockyard is stopping
_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class HostResult:
    host: str
    status: str  # switched, up to date, rolled back, refused, failed
    version: str = ""  # the environment `current` names now
    was: str = ""  # what `current` named before
    seconds: float = 0.0
    detail: str = ""
    problems: list[str] = field(default_factory=list)
    check: dict | None = None  # the self-check's JSON report
    differences: list[str] = field(default_factory=list)  # inventory vs the lock

    @property
    def ok(self) -> bool:
        return self.status in ("switched", "up to date", "rolled back", "ready")


@dataclass(frozen=True, slots=True)
class PackInfo:
    path: Path
    pack_id: str
    project: str
    size: int
    max_prefix: int


def pack_info(path: str | Path) -> PackInfo:
    """The header fields of a self-extracting pack (`dockyard pack -o NAME.sh`)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16384)
    except OSError as exc:
        raise DeployError(f"cannot read the pack {path}: {exc.strerror}",
                          hint="make one with `dockyard pack -o NAME.sh`") from None
    fields = dict(re.findall(rb"^([A-Z_]+)='?([^'\s]*)'?", head, re.M))
    try:
        pack_id = fields[b"PACK_ID"].decode()
        return PackInfo(path, pack_id, fields[b"PROJECT"].decode(), path.stat().st_size,
                        int(fields[b"MAX_PREFIX"]))
    except (KeyError, ValueError):
        raise DeployError(f"{path} is not a self-extracting pack made by `dockyard pack`",
                          hint="deploy the NAME.sh form (not the .tar.gz)") from None


def lock_of_pack(path: str | Path):
    """The dockyard.lock a pack was made from (read from its payload)."""
    import gzip
    import tarfile

    from ..lock.model import loads

    info = pack_info(path)
    with open(info.path, "rb") as fh:
        head = fh.read(16384)
        offset = int(re.search(rb"^PAYLOAD_OFFSET=(\d+)", head, re.M).group(1))
        fh.seek(offset)
        # a multi-member gzip stream: GzipFile reads on across members, tarfile's "r|gz" not
        with gzip.GzipFile(fileobj=fh) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            for member in tar:
                if member.name == ".dockyard/dockyard.lock":
                    data = tar.extractfile(member)
                    assert data is not None
                    return loads(data.read().decode(), f"{path} (.dockyard/dockyard.lock)")
    raise DeployError(f"{path} holds no dockyard.lock", hint="make it again with dockyard pack")


def _kv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _why(res: Result, what: str) -> str:
    lines = [line for line in (res.stderr or res.stdout).strip().splitlines()
             if not line.startswith("  ")] or ["(no output)"]
    text = next((line for line in reversed(lines) if line.startswith("error:")), lines[-1])
    return f"{what} failed (exit {res.returncode}): {text.removeprefix('error: ')}"


class _Host:
    """One host's deploy; every method returns a problem or None."""

    def __init__(self, target: Target, root: str, say: Callable[[str], None],
                 stop: threading.Event | None = None):
        self.t, self.root, self.say = target, root, say
        self.stop = stop or threading.Event()

    def run(self, script: str, **kw) -> Result:
        if self.stop.is_set():  # dockyard is stopping: start nothing more on this host
            raise _Stop("interrupted", "stopped before this step")
        return self.t.run(script, on_line=kw.pop("on_line", self._line), **kw)

    def _line(self, line: str) -> None:
        if line.strip():
            self.say(line.strip())

    def state(self, pack_id: str = "") -> dict[str, str]:
        res = self.run(remote.state(self.root, pack_id), timeout=120)
        if not res.ok:
            raise _Stop("failed", _why(res, f"reaching {self.t.describe()}"))
        st = _kv(res.stdout)
        if not st.get("system", "").startswith("Linux x86_64"):
            raise _Stop("refused", f"the host is {st.get('system') or 'unknown'}; the pack is for "
                        "Linux x86_64")
        if "writable" not in st:
            raise _Stop("refused", f"{self.root} is not writable there (or cannot be created)")
        for link in ("current", "previous"):
            if st.get(f"{link}_not_a_link"):
                raise _Stop("refused", f"{self.root}/{link} exists and is not a link: it was "
                            "not made by dockyard deploy; move it away first")
        return st

    def check(self, pack_id: str) -> tuple[bool, dict | None, list[str]]:
        self.say(f"checking {pack_id}")
        res = self.run(remote.check(self.root, pack_id), timeout=1800)
        _, _, body = res.stdout.partition(remote.CHECK_MARK)
        try:
            report = json.loads(body) if body.strip() else None
        except ValueError:
            report = None
        if report is None:
            return False, None, [_why(res, "the self-check")]
        problems = [f"{c['name']}: {p}" for c in report.get("checks", ())
                    if c["status"] == "fail" for p in (c.get("problems") or [c["detail"]])]
        return res.ok and report.get("ok", False), report, problems

    def install(self, pack: PackInfo) -> None:
        sent = [0, 0.0]

        def on_bytes(n: int) -> None:
            sent[0] += n
            now = time.monotonic()
            if now - sent[1] > 0.5 or sent[0] == pack.size:
                sent[1] = now
                self.say(f"copying {sent[0] * 100 // max(pack.size, 1)}% of "
                         f"{pack.size / 1e6:.0f} MB")

        res = self.run(remote.install(self.root, pack.pack_id, pack.size), stdin=pack.path,
                       on_bytes=on_bytes, timeout=3600)
        if not res.ok:
            raise _Stop("failed", _why(res, "installing the pack"))

    def inventory(self, pack_id: str) -> dict:
        from ..cluster.inventory import source

        self.say("inventory")
        res = self.run(remote.inventory(self.root, pack_id), stdin=source().encode(),
                       timeout=600)
        try:
            return json.loads(res.stdout)
        except ValueError:
            raise _Stop("failed", _why(res, "the inventory")) from None

    def switch(self, pack_id: str) -> dict[str, str]:
        res = self.run(remote.switch(self.root, pack_id), timeout=600)
        if not res.ok:
            raise _Stop("failed", _why(res, "switching `current`"))
        return _kv(res.stdout)


class _Stop(Exception):
    def __init__(self, status: str, detail: str, problems: Sequence[str] = ()):
        super().__init__(detail)
        self.status, self.detail, self.problems = status, detail, list(problems)


def _against_lock(host: str, inv: dict, lock, project: str) -> list[str]:
    from ..cluster.compare import Member, compare
    from ..cluster.inventory import canonical

    comparison = compare([Member("host", host, inv)], lock=lock, ignore=[project])
    out = [f"{d.package}: {d.what} {d.found} (lock: {d.lock or '-'})"
           + (f" {d.detail}" if d.detail else "") for d in comparison.differences]
    if project and not any(d["name"] == canonical(project)
                           for d in inv.get("distributions", ())):
        out.append(f"{project}: the project's own package is not installed")
    return out


def _prepare(h: _Host, host: str, pack: PackInfo, lock) -> HostResult:
    """Steps 1-3: the environment is on the host and proved, or the reason why not."""
    started = time.monotonic()
    st = h.state(pack.pack_id)
    was = st.get("current", "")
    result = HostResult(host, "ready", pack.pack_id, was)
    installed, ok, report, problems = False, False, None, []
    if st.get("have"):
        ok, report, problems = h.check(pack.pack_id)
        if not ok and was == pack.pack_id:
            raise _Stop("refused", "the current environment fails its check; deploy a new "
                        "pack, or --rollback", problems)
        if not ok:
            h.say("present but failing its check: installing it again")
    if not st.get("have") or not ok:
        h.say(f"copying the pack ({pack.size / 1e6:.0f} MB)")
        h.install(pack)
        installed = True
        ok, report, problems = h.check(pack.pack_id)
    result.check = report
    if not ok:
        raise _Stop("refused", f"the new environment {pack.pack_id} fails its check; "
                    f"`current` stays {was or '(none)'}", problems)
    diffs = _against_lock(host, h.inventory(pack.pack_id), lock, pack.project)
    if diffs:
        raise _Stop("refused", f"the new environment {pack.pack_id} differs from the lock; "
                    f"`current` stays {was or '(none)'}", diffs)
    result.detail = ("installed and checked" if installed else "already there, checked") + \
        ", equal to the lock"
    result.seconds = time.monotonic() - started
    return result


def deploy(pack: str | Path, targets: Sequence[Target], root: str, lock, *,
           all_or_none: bool = False, jobs: int = 8,
           progress: Progress | None = None) -> list[HostResult]:
    """Install `pack` under `root` on every target, prove it, switch `current` to it."""
    info = pack_info(pack)
    root = _check_root(root, info)
    say = progress or (lambda _h, _l: None)

    pool = _Pool(jobs, len(targets))

    def phase1(t: Target) -> HostResult:
        h = _Host(t, root, lambda line: say(t.name, line), pool.stop)
        started = time.monotonic()
        try:
            return _prepare(h, t.name, info, lock)
        except _Stop as stop:
            say(t.name, stop.detail)
            return HostResult(t.name, stop.status, "", "", time.monotonic() - started,
                              stop.detail, stop.problems)

    with pool:
        ready = pool.map(phase1, targets)
        if all_or_none and not all(r.ok for r in ready):
            for r in ready:
                if r.ok:
                    r.status = "not switched"
                    r.detail += "; not switched: another host failed (--all-or-none)"
                    r.version = r.was
            return ready

        def phase2(pair: tuple[Target, HostResult]) -> HostResult:
            t, r = pair
            if not r.ok:
                return r
            started = time.monotonic()
            h = _Host(t, root, lambda line: say(t.name, line), pool.stop)
            if r.was == info.pack_id:
                r.status = "up to date"
                return r
            try:
                links = h.switch(info.pack_id)
            except _Stop as stop:
                r.status, r.detail = stop.status, stop.detail
                r.version = r.was
                return r
            r.status, r.version = "switched", links.get("current", info.pack_id)
            r.seconds += time.monotonic() - started
            say(t.name, f"current -> {r.version}")
            return r

        return pool.map(phase2, list(zip(targets, ready, strict=True)))


def rollback(targets: Sequence[Target], root: str, *, jobs: int = 8,
             progress: Progress | None = None) -> list[HostResult]:
    """Point `current` back at `previous` on every target, after checking that one."""
    root = _check_root(root, None)
    say = progress or (lambda _h, _l: None)
    pool = _Pool(jobs, len(targets))

    def one(t: Target) -> HostResult:
        started = time.monotonic()
        h = _Host(t, root, lambda line: say(t.name, line), pool.stop)
        try:
            st = h.state()
            cur, prev = st.get("current", ""), st.get("previous", "")
            if not prev:
                raise _Stop("refused", f"nothing to roll back to: {root}/previous does not exist")
            ok, report, problems = h.check(prev)
            if not ok:
                raise _Stop("refused", f"the previous environment {prev} fails its check; "
                            f"`current` stays {cur}", problems)
            res = h.run(remote.rollback(root, prev), timeout=600)
            if not res.ok:
                raise _Stop("failed", _why(res, "switching `current` back"))
            links = _kv(res.stdout)
            say(t.name, f"current -> {links.get('current')}")
            return HostResult(t.name, "rolled back", links.get("current", prev), cur,
                              time.monotonic() - started, f"previous is now {cur}",
                              check=report)
        except _Stop as stop:
            return HostResult(t.name, stop.status, "", "", time.monotonic() - started,
                              stop.detail, stop.problems)

    with pool:
        return pool.map(one, targets)


class _Pool:
    """Threads for the hosts. On Ctrl-C or SIGTERM (or any error) in the caller: no host
    starts another step, and their ssh children are killed until every thread has ended,
    so nothing runs on after dockyard (a host's `current` changes last, atomically: a
    stopped host keeps the one it had)."""

    def __init__(self, jobs: int, n: int):
        self.executor = ThreadPoolExecutor(max_workers=max(1, min(jobs, n)),
                                           thread_name_prefix="deploy")
        self.stop = threading.Event()
        self.futures: list[Future] = []

    def map(self, fn: Callable[[_T], HostResult], items: Sequence[_T]) -> list[HostResult]:
        futures = [self.executor.submit(fn, item) for item in items]
        self.futures += futures
        pending = set(futures)
        while pending:
            # short waits: a signal may reach a host's thread instead of this one, and its
            # handler (which raises here, in the main thread) runs only between them
            _, pending = wait(pending, timeout=0.2)
        return [f.result() for f in futures]

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.executor.shutdown(wait=True)
            return
        from .. import lifecycle

        self.stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_WAIT
        while True:
            lifecycle.undo_all()  # kills the children started so far (their process groups)
            _, running = wait(self.futures, timeout=0.2)
            if not running or time.monotonic() > deadline:
                break


def _check_root(root: str, info: PackInfo | None) -> str:
    root = root.rstrip("/") or "/"
    if not root.startswith("/"):
        raise DeployError(f"--prefix {root!r} must be an absolute path on the hosts",
                          hint="e.g. --prefix /opt/envs/app")
    if not re.fullmatch(r"[A-Za-z0-9/._+@%,:=-]+", root) or root == "/":
        raise DeployError(f"--prefix {root!r}: use letters, digits and / . _ - + @ % , : =")
    if info and info.max_prefix and len(root) + 17 > info.max_prefix:
        raise DeployError(
            f"--prefix {root} is too long for this pack: its binary files have room for "
            f"{info.max_prefix} characters, and each version lives at PREFIX/<16-char id>",
            hint=f"use a prefix of at most {info.max_prefix - 17} characters")
    return root


__all__ = ["HostResult", "LocalTarget", "PackInfo", "SshTarget", "deploy", "lock_of_pack",
           "pack_info",
           "rollback", "target_of"]

"""`cluster check`: the inventory of a live cluster's client, scheduler and workers, compared.

    client_script() -> str                   run by an interpreter that has distributed
    collect(address, image=|python=) -> dict  its JSON: client, scheduler, workers, lock text
    check_cluster(address, ...) -> CheckResult

The client runs where the user's client runs: in a container of the notebook
image on the host's network (`image`; its bytecode cached on this machine per
image, see `pycache_dir`), or in an interpreter on the host
(`python`), or in dockyard's own interpreter if it has distributed. It takes
its own inventory, then has the scheduler (`Client.run_on_scheduler`) and
every worker (`Client.run`) evaluate `inventory.remote_expression()`: the
builtin `eval` with the inventory's source as a string, so nothing is
unpickled there but a string, whatever their Python or their packages.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClusterError
from ..redact import redact
from .compare import Comparison, Member, compare
from .inventory import remote_expression, source

MARK = "DOCKYARD-JSON "

_CLIENT = '''
import json, sys

def _error(exc):
    return "%s: %s" % (type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip()
                       else "")

def main():
    address, timeout = sys.argv[1], float(sys.argv[2])
    out = {"client": None, "scheduler": None, "workers": {}, "error": "", "lock_text": None,
           "distributed": ""}
    out["client"] = eval(EXPR)
    lock = (out["client"].get("lock") or {}).get("path")
    if lock:
        with open(lock, encoding="utf-8") as f:
            out["lock_text"] = f.read()
    try:
        import distributed
        from distributed import Client
    except ImportError as exc:
        out["error"] = "no-distributed: " + _error(exc)
        return out
    out["distributed"] = distributed.__version__
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:
        out["error"] = "connect: " + _error(exc)
        return out
    try:
        try:
            info = client.scheduler_info(n_workers=-1)
        except TypeError:
            info = client.scheduler_info()
        sched = {"address": info.get("address", address)}
        try:
            sched["inventory"] = client.run_on_scheduler(eval, EXPR)
        except Exception as exc:
            sched["error"] = _error(exc)
        out["scheduler"] = sched
        workers = info.get("workers", {})
        try:
            results = client.run(eval, EXPR, on_error="return")
        except TypeError:
            results = {}
            for addr in workers:
                try:
                    results[addr] = client.run(eval, EXPR, workers=[addr])[addr]
                except Exception as exc:
                    results[addr] = exc
        for addr in sorted(set(workers) | set(results)):
            w = {"address": addr, "name": str(workers.get(addr, {}).get("name", ""))}
            r = results.get(addr)
            if isinstance(r, BaseException) or r is None:
                w["error"] = _error(r) if r is not None else "no answer"
            else:
                w["inventory"] = r
            out["workers"][addr] = w
    finally:
        client.close()
    return out

print(MARK + json.dumps(main()), flush=True)
sys.stderr.flush()
import os
os._exit(0)  # all said: skip the interpreter's teardown of distributed's threads
'''


def client_script() -> str:
    """The client: stdlib + distributed, the inventory's source inside."""
    return f"EXPR = {remote_expression(source())!r}\nMARK = {MARK!r}\n" + _CLIENT


@dataclass(frozen=True, slots=True)
class CheckResult:
    comparison: Comparison
    raw: dict[str, Any]
    lock_source: str  # what the lock compared with was, in words
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "schema": "dockyard-cluster-check/1",
            "ok": c.ok,
            "lock": self.lock_source,
            "members": [{"role": m.role, "host": m.host, "error": m.error,
                         "inventory": m.inventory} for m in c.members],
            "differences": [{"role": d.role, "host": d.host, "package": d.package,
                             "what": d.what, "found": d.found, "lock": d.lock,
                             "client": d.reference, "detail": d.detail}
                            for d in c.differences],
            "notes": list(self.notes + c.notes),
        }


def _host(inv: dict[str, Any] | None, address: str) -> str:
    name = (inv or {}).get("host", "")
    return f"{name} ({address})" if name and address else name or address


def members(raw: dict[str, Any], client_where: str) -> tuple[Member, ...]:
    """The JSON the client printed, as Members (client first)."""
    out = [Member("client", _host(raw["client"], client_where), raw["client"])]
    s = raw.get("scheduler") or {}
    out.append(Member("scheduler", _host(s.get("inventory"), s.get("address", "")),
                      s.get("inventory"), s.get("error", "")))
    for addr, w in sorted(raw.get("workers", {}).items()):
        out.append(Member("worker", _host(w.get("inventory"), addr), w.get("inventory"),
                          w.get("error", "")))
    return tuple(out)


def collect(address: str, *, image: str | None = None, python: str | None = None,
            timeout: float = 30.0, engine_name: str | None = None) -> tuple[dict, str]:
    """Run the client; (its JSON, where it ran)."""
    from ..runner import SubprocessRunner

    script = client_script()
    args = [address, str(timeout)]
    if image:
        from ..engines import get_engine

        engine = get_engine(engine_name)
        found = engine.cli("image", "inspect", image)
        if not found.ok:
            raise ClusterError(f"no image {image} on this machine",
                               hint=f"pull it first (`{engine.name} pull {image}`)")
        data = json.loads(found.stdout)
        data = data[0] if isinstance(data, list) else data
        labels = data.get("Config", {}).get("Labels") or {}
        interpreter = labels.get("io.dockyard.python")
        if not interpreter:
            raise ClusterError(f"{image} has no io.dockyard.python label: not built by dockyard",
                               hint="pass the notebook image `dockyard build` or `dockyard "
                               "cluster build` made, or --python PATH")
        cache = pycache_dir(data["Id"])
        done = engine.cli("run", "--rm", "-i", "--network", "host", "--user", "0",
                          "-v", f"{cache}:{PYCACHE_IN_CONTAINER}",
                          "-e", f"PYTHONPYCACHEPREFIX={PYCACHE_IN_CONTAINER}",
                          "--entrypoint", interpreter, image, "-", *args, input=script,
                          timeout=timeout + 30)
        where = f"image {image}"
    else:
        interpreter = python or sys.executable
        if python is None and not _has_distributed():
            raise ClusterError("dockyard's own Python has no distributed to act as a client",
                               hint="run the client where the users' runs: --image "
                               "NOTEBOOK_IMAGE, or --python PATH of an environment with "
                               "distributed (the app's)")
        if python and not (Path(python).is_file() or shutil.which(python)):
            raise ClusterError(f"no interpreter {python}", hint="give the path of a python")
        done = SubprocessRunner()([interpreter, "-", *args], input=script, timeout=timeout + 30)
        where = f"python {interpreter}"
    line = next((x for x in reversed((done.stdout or "").splitlines()) if x.startswith(MARK)),
                None)
    if line is None:
        tail = "\n".join(redact(done.stderr or done.stdout or "").strip().splitlines()[-12:])
        raise ClusterError(f"the client ({where}) failed (exit {done.returncode}):\n{tail}",
                           hint="check that it can run: the image's or interpreter's Python")
    raw = json.loads(line[len(MARK):])
    err = raw.get("error", "")
    if err.startswith("no-distributed"):
        raise ClusterError(f"the client ({where}) has no distributed: "
                           f"{err.split(': ', 1)[-1]}", hint="the client's environment must "
                           "have dask's distributed: is this the notebook image?")
    if err.startswith("connect"):
        raise ClusterError(f"cannot connect to the scheduler {address} from {where}: "
                           f"{err.split(': ', 1)[-1]}",
                           hint="is the scheduler running and reachable from there? "
                           "(the client runs on the host's network)")
    return raw, where


PYCACHE_IN_CONTAINER = "/tmp/dockyard-pycache"
PYCACHE_KEEP = 8


def pycache_dir(image_id: str) -> Path:
    """This machine's bytecode cache for the client containers of one image.

    Images are built without bytecode, so each client container would compile
    distributed and its imports again (seconds: most of a check's time). The cache
    is keyed by image ID, private to this user (0700; the client runs as the
    container's root, which is this user for rootless engines), and only the
    PYCACHE_KEEP most recently used are kept.
    """
    from ..render.stage import cache_dir

    root = cache_dir() / "pycache"
    root.mkdir(mode=0o700, exist_ok=True)
    path = root / image_id.removeprefix("sha256:")[:32]
    path.mkdir(mode=0o700, exist_ok=True)
    path.touch()
    for old in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime)[:-PYCACHE_KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _has_distributed() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def check_cluster(address: str, *, image: str | None = None, python: str | None = None,
                  lock_path: Path | None = None, ignore: Iterable[str] = (),
                  timeout: float = 30.0, engine_name: str | None = None) -> CheckResult:
    from ..lock.model import loads

    raw, where = collect(address, image=image, python=python, timeout=timeout,
                         engine_name=engine_name)
    notes: list[str] = []
    lock, lock_source = None, "the client only (no lock)"
    if lock_path is not None:
        if not Path(lock_path).is_file():
            raise ClusterError("no such lock file", where=str(lock_path),
                               hint="pass the project's dockyard.lock")
        lock, lock_source = loads(Path(lock_path).read_text(), str(lock_path)), str(lock_path)
    elif raw.get("lock_text"):
        path = (raw["client"].get("lock") or {}).get("path", "")
        lock, lock_source = loads(raw["lock_text"], path), f"the client's lock ({path})"
    elif Path("dockyard.lock").is_file():
        lock, lock_source = loads(Path("dockyard.lock").read_text()), "./dockyard.lock"
    else:
        notes.append("no lock to compare with: the client's environment is the reference")
    all_members = members(raw, where)
    comparison = compare(all_members, lock, all_members[0], ignore)
    return CheckResult(comparison, raw, lock_source, tuple(notes))


def render_rows(comparison: Comparison) -> list[tuple[str, ...]]:
    """The table's rows: role, host, package, difference, lock, client, found."""
    rows = []
    for d in comparison.differences:
        what = d.what + (f" ({d.detail})" if d.detail else "")
        rows.append((d.role, d.host, d.package, what, d.lock or "", d.reference or "", d.found))
    return rows


__all__ = ["CheckResult", "check_cluster", "client_script", "collect", "members",
           "render_rows"]

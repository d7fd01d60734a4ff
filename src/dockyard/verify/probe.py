"""Code that runs inside the app's kernel, and the checks made from what it returns (pure).

The code leaves its answer as JSON in the kernel variable `_dockyard_result`,
read back through the `execute_reply`'s user_expressions (the shell channel:
nothing depends on catching iopub output). It must run on any CPython the app
may use (3.8+), so it uses the standard library only.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from string import Template

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..lock.model import Lock
from .report import Check

MARKER = "DOCKYARD-VERIFY "
STARTING = "DOCKYARD-VERIFY-IMPORTING "
DONE = "DOCKYARD-VERIFY-DONE"
RESULT = "_dockyard_result"  # the kernel variable read back through user_expressions

_FACTS = r'''
def _dockyard_facts(lock_path):
    import json, os, platform, sys
    try:
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
    except Exception:
        user = None
    out = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "user": user,
        "env_username": os.environ.get("USERNAME"),
        "lock_text": None,
        "lock_error": None,
        "server_prefix": None,
    }
    # The Jupyter server that started this kernel: its interpreter is argv[0] of the
    # parent process (a shebang's absolute path), so its prefix is two levels up.
    try:
        ppid = int(os.environ.get("JPY_PARENT_PID") or os.getppid())
        with open("/proc/%d/cmdline" % ppid, "rb") as fh:
            argv0 = fh.read().split(b"\0")[0].decode()
        if os.path.isabs(argv0) and os.path.basename(argv0).startswith("python"):
            out["server_prefix"] = os.path.dirname(os.path.dirname(argv0))
    except (OSError, ValueError):
        pass
    if lock_path:
        try:
            with open(lock_path, encoding="utf-8") as fh:
                out["lock_text"] = fh.read()
        except OSError as exc:
            out["lock_error"] = "%s: %s" % (type(exc).__name__, exc)
    return json.dumps(out)
_dockyard_result = _dockyard_facts(${LOCK_PATH})
del _dockyard_facts
'''


# Runs in a child of the kernel, with the kernel's interpreter, environment and sys.path:
# an import that kills the interpreter (a segfault, os._exit) kills the child only, and
# the kernel names it and goes on. One line per distribution as soon as it is done, one
# before each import; each on a fresh line, whatever a module printed.
_CHILD = r'''
import importlib, json, sys
import importlib.metadata as md
dists, path = json.loads(sys.stdin.read())
sys.path[:] = path
skip = {"test", "tests", "testing", "docs", "examples", "benchmarks"}

def tops(dist):
    names = [l.strip() for l in (dist.read_text("top_level.txt") or "").splitlines()]
    names = [n for n in names if n]
    if not names:
        for f in dist.files or ():
            parts = f.parts
            if not parts or parts[0] in ("..", "__pycache__"):
                continue
            first = parts[0]
            if first.endswith((".dist-info", ".egg-info", ".data")):
                continue
            if len(parts) > 1:
                if first.isidentifier():  # not numpy.libs/ and the like
                    names.append(first)
            elif first.endswith(".py"):
                names.append(first[:-3])
            elif first.endswith((".so", ".pyd")):
                names.append(first.split(".")[0])
    if not names:
        wanted = dist.metadata["Name"]
        names = [m for m, ds in md.packages_distributions().items() if wanted in ds]
    keep = set()
    for n in names:
        n = n.replace("/", ".")
        if n.split(".")[0] in skip or n.startswith("__"):
            continue
        if all(p.isidentifier() for p in n.split(".")):
            keep.add(n)
    return sorted(keep)

def say(line):
    sys.stdout.write("\n" + line + "\n")
    sys.stdout.flush()

for name, required in dists:
    entry = {"dist": name, "version": None, "modules": [], "failures": {}, "missing": False,
             "optional": not required}
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        entry["missing"] = True
        say(${MARKER} + json.dumps(entry))
        continue
    entry["version"] = dist.version
    entry["modules"] = tops(dist)
    for mod in entry["modules"]:
        say(${STARTING} + json.dumps([name, dist.version, mod]))
        try:
            importlib.import_module(mod)
        except BaseException as exc:  # an import may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            entry["failures"][mod] = ("%s: %s" % (type(exc).__name__, exc)).strip()
            gone = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
            if gone and gone.split(".")[0] != mod.split(".")[0]:
                entry.setdefault("needs", {})[mod] = gone
    say(${MARKER} + json.dumps(entry))
say(${DONE})
'''

_IMPORTS = r'''
def _dockyard_imports(dists, child, timeout):
    import json, signal, subprocess, sys
    results, left = [], [list(d) for d in dists]
    while left:
        try:
            proc = subprocess.run([sys.executable, "-c", child], capture_output=True,
                                  input=json.dumps([left, sys.path]), text=True,
                                  timeout=timeout)
            out, code, err = proc.stdout, proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out, code, err = exc.stdout or "", None, ""
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
        current, finished = None, False
        for line in out.splitlines():
            if line.startswith(${STARTING}):
                current = json.loads(line[len(${STARTING}):])
            elif line.startswith(${MARKER}):
                results.append(json.loads(line[len(${MARKER}):]))
                current = None
            elif line == ${DONE}:
                finished = True
        if finished:
            break
        if code is None:
            why = "did not finish within %d s" % timeout
        elif code < 0:
            try:
                why = "the interpreter was killed by %s" % signal.Signals(-code).name
            except ValueError:
                why = "the interpreter was killed by signal %d" % -code
        else:
            why = "the interpreter exited with code %d" % code
        last = (err or "").strip().splitlines()[-1:]
        why += (" (" + last[0][-200:] + ")") if last else ""
        done = set(r["dist"] for r in results)
        if current is None:  # died outside any import: blame the next distribution
            name = [d for d in left if d[0] not in done][0][0]
            current = [name, None, "(reading its metadata)"]
        results.append({"dist": current[0], "version": current[1], "modules": [current[2]],
                        "missing": False, "optional": False,
                        "failures": {current[2]: "during this import, " + why}})
        done.add(current[0])
        left = [d for d in left if d[0] not in done]
    return json.dumps(results)
_dockyard_result = _dockyard_imports(${DISTS}, ${CHILD}, ${TIMEOUT})
del _dockyard_imports
'''


def _fill(template: str, **values) -> str:
    marks = {"MARKER": MARKER, "STARTING": STARTING, "DONE": DONE}
    return Template(template).substitute({k: repr(v) for k, v in {**marks, **values}.items()})


def facts_code(lock_path: str | None) -> str:
    return _fill(_FACTS, LOCK_PATH=lock_path)


def imports_code(dists: Sequence[str | Wanted], timeout: float = 600) -> str:
    pairs = [[d, True] if isinstance(d, str) else [d.dist, d.required] for d in dists]
    return _fill(_IMPORTS, DISTS=pairs, CHILD=_fill(_CHILD), TIMEOUT=int(timeout))


def parse_result(text: str | None):
    """The JSON the kernel code left in `_dockyard_result` (text/plain: the str's repr)."""
    if text is None:
        return None
    return json.loads(ast.literal_eval(text))


@dataclass(frozen=True, slots=True)
class Wanted:
    """A distribution the lock says is installed, with the version it pins (pypi only).

    `required=False`: a conda package that names no PyPI distribution it provides; it
    is imported if a distribution of that name is there (conda's Python packages ship
    their dist-info), and skipped if not (a C library, the interpreter itself)."""

    dist: str
    version: str = ""
    required: bool = True


def wanted_distributions(lock: Lock) -> tuple[Wanted, ...]:
    """PyPI distributions of the lock: pypi packages, and what conda packages provide."""
    seen: dict[str, Wanted] = {}
    for p in lock.packages:
        if p.owner == "pypi":
            seen[canonicalize_name(p.name)] = Wanted(canonicalize_name(p.name), p.version)
        for dist in p.provides:
            seen[canonicalize_name(dist)] = Wanted(canonicalize_name(dist))
        if p.owner == "conda" and not p.provides:
            seen.setdefault(canonicalize_name(p.name),
                            Wanted(canonicalize_name(p.name), required=False))
    return tuple(seen[k] for k in sorted(seen))


# ---- checks: plain data in, Check out --------------------------------------------------


def check_interpreter(facts: dict, lock: Lock | None) -> Check:
    found = facts.get("python", "?")
    where = f"{facts.get('implementation', 'CPython')} {found} at {facts.get('executable')}"
    target = lock.target.python if lock else ""
    if not target:
        return Check("interpreter", "pass", f"{where} (no lock target to compare)")
    if found == target or found.startswith(target + "."):
        return Check("interpreter", "pass", f"{where}, as locked ({target})")
    return Check("interpreter", "fail", f"{where}, but the lock targets Python {target}")


def check_user(facts: dict, username: str | None) -> Check:
    uid, user = facts.get("uid"), facts.get("user")
    who = f"uid {uid} ({user or 'no passwd entry'})"
    if uid == 0:
        return Check("not root", "fail", f"the kernel runs as root: {who}")
    if username and user != username:
        return Check("not root", "fail", f"{who}, but the image's USERNAME is {username!r}")
    expected = ", the image's USERNAME" if username else " (the image sets no USERNAME)"
    return Check("not root", "pass", who + expected)


# Imports that fail by design when an optional peer is absent: the distribution is
# pulled in by another (here IPython) that never imports it without the peer.
OPTIONAL_PEERS = {
    ("matplotlib_inline", "matplotlib"):
        "IPython's inline plotting backend, imported only once matplotlib is",
}


def check_imports(results: Iterable[dict] | None, why_skipped: str = "") -> Check:
    if results is None:
        return Check("imports", "skip", why_skipped or "no lock to read distributions from")
    results = list(results)
    problems: list[str] = []
    notes: list[str] = []
    n_mods = 0
    for r in results:
        if r.get("missing") and r.get("optional"):
            continue
        if r.get("missing"):
            problems.append(f"{r['dist']}: locked but not installed in the kernel's environment")
            continue
        n_mods += len(r.get("modules") or ())
        if not r.get("modules"):
            notes.append(f"{r['dist']} (no top-level module)")
        needs = r.get("needs") or {}
        for mod, msg in sorted((r.get("failures") or {}).items()):
            peer = (needs.get(mod) or "").split(".")[0]
            why = OPTIONAL_PEERS.get((mod.split(".")[0], peer))
            if why:
                notes.append(f"{mod} needs {peer}, not locked: {why}")
                continue
            problems.append(f"import {mod} ({r['dist']} {r.get('version')}): {msg}")
    n_dists = sum(1 for r in results if not (r.get("missing") and r.get("optional")))
    detail = f"{n_mods} top-level modules of {n_dists} locked distributions"
    if problems:
        return Check("imports", "fail", detail + f": {len(problems)} problem(s)",
                     tuple(problems + [f"note: {n}" for n in notes]))
    detail += " import"
    if notes:
        detail += f" (not imported: {'; '.join(notes)})"
    return Check("imports", "pass", detail)


def check_versions(results: Iterable[dict] | None, wanted: Sequence[Wanted]) -> Check:
    if results is None:
        return Check("versions", "skip", "no lock to compare with")
    installed = {canonicalize_name(r["dist"]): r.get("version") for r in results}
    problems = []
    compared = 0
    for w in wanted:
        got = installed.get(w.dist)
        if not w.version or got is None:
            continue
        compared += 1
        if not _same_version(got, w.version):
            problems.append(f"{w.dist}: installed {got}, locked {w.version}")
    detail = f"{compared} PyPI distributions compared with the lock"
    if problems:
        return Check("versions", "fail", detail, tuple(problems))
    return Check("versions", "pass", detail + ": all as locked")


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def check_app_env(facts: dict, jupyter_prefix: str | None, is_app_kernel: bool) -> Check:
    prefix = facts.get("prefix")
    if not is_app_kernel:
        return Check("own environment", "skip", "the chosen kernel is the base's default one")
    if not jupyter_prefix:
        return Check("own environment", "skip", "could not find the base Jupyter's Python")
    if prefix == jupyter_prefix:
        return Check("own environment", "fail",
                     f"the app kernel runs in the base Jupyter's own environment {prefix}")
    return Check("own environment", "pass", f"{prefix} (Jupyter runs from {jupyter_prefix})")


def check_as_base(config: dict, base_config: dict | None, base_ref: str | None) -> Check:
    """The image keeps the base's CMD, ENTRYPOINT and USER (the platform owns them)."""
    if not base_ref:
        return Check("as the base", "skip", "no io.dockyard.base label names the base")
    if base_config is None:
        return Check("as the base", "skip", f"the base {base_ref} is not on this machine")
    problems = []
    for key, what in (("Cmd", "CMD"), ("Entrypoint", "ENTRYPOINT"), ("User", "USER")):
        mine, theirs = config.get(key) or None, base_config.get(key) or None
        if mine != theirs:
            problems.append(f"{what} is {mine!r}, the base's is {theirs!r}")
    if problems:
        return Check("as the base", "fail", f"differs from {base_ref}", tuple(problems))
    return Check("as the base", "pass", f"CMD, ENTRYPOINT and USER as in {base_ref}")

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


# Runs in a child of the kernel, one child per distribution (with the kernel's
# interpreter, environment and sys.path): an import that fails, or kills the interpreter,
# cannot hide or shift another distribution's result. The modules are the ones the
# distribution's RECORD installs (top_level.txt may name what a wheel does not install);
# top_level.txt is only read where there is no RECORD, and kept where it names a module
# that exists. A failure is traced to the distribution whose file raised it; where no
# file of another distribution is in the traceback (a lazy import: argopy's of pyarrow),
# the top-level modules loaded at that moment are kept, to name one that fails alone.
_CHILD = r'''
import importlib, importlib.util, json, os, sys
import importlib.metadata as md
name, path = json.loads(sys.stdin.read())
sys.path[:] = path
SKIP = {"test", "tests", "testing", "docs", "examples", "benchmarks"}

def ident(parts):
    return all(p.isidentifier() for p in parts) and parts[0] not in SKIP \
        and not parts[0].startswith("__")

def from_record(files):
    names, inits = set(), set()
    for f in files:
        parts = f.parts
        if not parts or parts[0] in ("..", "__pycache__") or \
                parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        leaf = parts[-1]
        if leaf == "__init__.py" or (leaf.startswith("__init__.") and
                                     leaf.endswith((".so", ".pyd"))):
            inits.add(parts[:-1])
        elif len(parts) == 1 and leaf.endswith(".py"):
            names.add((leaf[:-3],))
        elif len(parts) == 1 and leaf.endswith((".so", ".pyd")):
            names.add((leaf.split(".")[0],))
    for pkg in inits:  # the shallowest package: google/protobuf/ under a namespace google/
        if not any(pkg[:k] in inits for k in range(1, len(pkg))):
            names.add(pkg)
    return {".".join(n) for n in names if n and ident(n)}

def modules(dist):
    files = dist.files
    if files is not None and any(not str(f).endswith(("RECORD", "INSTALLER")) for f in files):
        return sorted(from_record(files))
    listed = [l.strip() for l in (dist.read_text("top_level.txt") or "").splitlines()]
    if not listed:
        wanted = dist.metadata["Name"]
        listed = [m for m, ds in md.packages_distributions().items() if wanted in ds]
    out = set()
    for n in listed:
        n = n.replace("/", ".")
        try:
            if n and ident(n.split(".")) and importlib.util.find_spec(n) is not None:
                out.add(n)
        except (ImportError, ValueError):
            pass
    return sorted(out)

OWNER = {}

def owner_of(filename):
    # the distribution whose RECORD lists this file (built on the first failure)
    if not OWNER:
        for d in md.distributions():
            dname = d.metadata["Name"]
            for f in d.files or ():
                try:
                    OWNER.setdefault(os.path.realpath(d.locate_file(f)), (dname, str(f)))
                except Exception:
                    pass
        OWNER[""] = None
    return OWNER.get(os.path.realpath(filename))

def culprit(exc, mine):
    # the innermost frame of the traceback that is a file of another distribution
    found, tb = None, exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname and not fname.startswith("<"):
            found = owner_of(fname) or found
        tb = tb.tb_next
    canon = lambda n: n.lower().replace("_", "-").replace(".", "-")
    return found if found and canon(found[0]) != canon(mine) else None

def say(line):
    sys.stdout.write("\n" + line + "\n")
    sys.stdout.flush()

entry = {"dist": name, "version": None, "modules": [], "failures": {}, "missing": False}
try:
    dist = md.distribution(name)
except md.PackageNotFoundError:
    entry["missing"] = True
    say(${MARKER} + json.dumps(entry))
    raise SystemExit(0)
entry["version"] = dist.version
entry["modules"] = modules(dist)
for mod in entry["modules"]:
    say(${STARTING} + json.dumps([mod, dist.version]))
    try:
        importlib.import_module(mod)
    except BaseException as exc:  # an import may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        entry["failures"][mod] = ("%s: %s" % (type(exc).__name__, exc)).strip()
        gone = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
        if gone and gone.split(".")[0] != mod.split(".")[0] and \
                isinstance(exc, ModuleNotFoundError):
            entry.setdefault("needs", {})[mod] = gone
        try:
            blame = culprit(exc, dist.metadata["Name"])
        except Exception:
            blame = None
        if blame:
            other = md.distribution(blame[0])
            entry.setdefault("blame", {})[mod] = [other.metadata["Name"], other.version,
                                                   blame[1]]
        else:  # a lazy import's failure leaves no frame of its file: what was loaded
            entry.setdefault("loaded", {})[mod] = sorted({k.split(".")[0] for k in
                                                          list(sys.modules)})
say(${MARKER} + json.dumps(entry))
'''

_IMPORTS = r'''
def _dockyard_imports(dists, child, timeout, jobs):
    import json, os, signal, subprocess, sys
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        name, required = item
        try:
            proc = subprocess.run([sys.executable, "-c", child], capture_output=True,
                                  input=json.dumps([name, sys.path]), text=True,
                                  timeout=timeout)
            out, code, err = proc.stdout, proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out, code, err = exc.stdout or "", None, ""
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
        current, version = None, None
        for line in out.splitlines():
            if line.startswith(${STARTING}):
                current, version = json.loads(line[len(${STARTING}):])
            elif line.startswith(${MARKER}):
                entry = json.loads(line[len(${MARKER}):])
                entry["optional"] = not required
                return entry
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
        mod = current or "(reading its metadata)"
        return {"dist": name, "version": version, "modules": [mod], "missing": False,
                "optional": not required, "failures": {mod: "during this import, " + why}}

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return json.dumps(list(pool.map(one, dists)))
_dockyard_result = _dockyard_imports(${DISTS}, ${CHILD}, ${TIMEOUT}, ${JOBS})
del _dockyard_imports
'''


class _Raw(str):
    """A value put into the kernel's code as it is (an expression), not as a literal."""


def _fill(template: str, **values) -> str:
    marks = {"MARKER": MARKER, "STARTING": STARTING, "DONE": DONE}
    return Template(template).substitute(
        {k: v if isinstance(v, _Raw) else repr(v) for k, v in {**marks, **values}.items()})


def facts_code(lock_path: str | None) -> str:
    return _fill(_FACTS, LOCK_PATH=lock_path)


def imports_code(dists: Sequence[str | Wanted], timeout: float = 300, jobs: int = 0) -> str:
    """Code that imports each distribution's modules in its own interpreter, `jobs` at a
    time (0: one per CPU the kernel sees, at most 8), each within `timeout` seconds."""
    pairs = [[d, True] if isinstance(d, str) else [d.dist, d.required] for d in dists]
    jobs_expr = jobs or "min(8, len(__import__('os').sched_getaffinity(0)))"
    return _fill(_IMPORTS, DISTS=pairs, CHILD=_fill(_CHILD), TIMEOUT=int(timeout),
                 JOBS=_Raw(str(jobs_expr)))


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


@dataclass(frozen=True, slots=True)
class ExpectedUser:
    """Who the kernel should run as: the image's USER (or the one verify was given), and
    the users the platform's variables name ($USERNAME, $NB_USER)."""

    user: str = ""  # "1000", "jovyan", "1000:100", "" (root)
    variables: tuple[tuple[str, str], ...] = ()  # (("NB_USER", "jovyan"),)
    given: bool = False  # `user` came from --user, not from the image

    @property
    def root(self) -> bool:
        return self.user.split(":")[0] in ("", "0", "root")

    @property
    def platform(self) -> tuple[str, ...]:
        return tuple(v for _, v in self.variables)


def check_user(facts: dict, expected: ExpectedUser | str | None) -> Check:
    """The kernel's user against the image's USER and the platform's variables."""
    if not isinstance(expected, ExpectedUser):  # a bare $USERNAME
        expected = ExpectedUser("", (("USERNAME", expected),) if expected else ())
    uid, user = facts.get("uid"), facts.get("user")
    who = f"uid {uid} ({user or 'no passwd entry'})"
    says = (("--user" if expected.given else "the image's USER")
            + f" is {expected.user or 'unset (root)'}")
    says += "".join(f", {k} is {v!r}" for k, v in expected.variables)
    if uid == 0:
        if expected.root and not expected.platform:
            return Check("not root", "skip", f"the kernel runs as root, as {says}: platforms "
                         "usually run images as a user; check with --user UID:GID")
        return Check("not root", "fail", f"the kernel runs as root, but {says}")
    if expected.platform and user not in expected.platform:
        return Check("not root", "fail", f"{who}, but {says}")
    first = expected.user.split(":")[0]
    if not expected.platform and not expected.root and first not in (str(uid), user):
        return Check("not root", "fail", f"{who}, but {says}")
    return Check("not root", "pass", f"{who}; {says}")


# Imports that fail by design when an optional peer is absent: the distribution is
# pulled in by another (here IPython) that never imports it without the peer.
OPTIONAL_PEERS = {
    ("matplotlib_inline", "matplotlib"):
        "IPython's inline plotting backend, imported only once matplotlib is",
}


def _short(path: str) -> str:
    """A file as its distribution installs it: `pyarrow/__init__.py`."""
    for cut in ("/site-packages/", "/dist-packages/"):
        if cut in path:
            return path.split(cut, 1)[1]
    return path


def check_imports(results: Iterable[dict] | None, why_skipped: str = "") -> Check:
    """Every failure names the distribution at fault: its own, or the one whose file raised
    it (argopy failing inside pyarrow names pyarrow), or, when no such file is in the
    traceback (a lazy import), a distribution loaded at that moment whose own import fails;
    culprits are listed first."""
    if results is None:
        return Check("imports", "skip", why_skipped or "no lock to read distributions from")
    results = list(results)
    failing = {canonicalize_name(r["dist"]) for r in results
               if r.get("failures") and not r.get("blame")}
    # top-level module -> the distribution whose own import of it fails (not a knock-on)
    fails_alone = {mod.split(".")[0]: (r["dist"], r.get("version"))
                   for r in results if not r.get("missing")
                   for mod in (r.get("failures") or {}) if mod not in (r.get("blame") or {})}
    own: list[str] = []
    caused: list[str] = []
    notes: list[str] = []
    n_mods = 0
    for r in results:
        if r.get("missing") and r.get("optional"):
            continue
        if r.get("missing"):
            own.append(f"{r['dist']}: locked but not installed in the kernel's environment")
            continue
        n_mods += len(r.get("modules") or ())
        if not r.get("modules"):
            notes.append(f"{r['dist']} (no top-level module)")
        needs = r.get("needs") or {}
        blames = r.get("blame") or {}
        for mod, msg in sorted((r.get("failures") or {}).items()):
            peer = (needs.get(mod) or "").split(".")[0]
            why = OPTIONAL_PEERS.get((mod.split(".")[0], peer))
            if why:
                notes.append(f"{mod} needs {peer}, not locked: {why}")
                continue
            line = f"import {mod} ({r['dist']} {r.get('version')}): {msg}"
            loaded = sorted({fails_alone[m] for m in (r.get("loaded") or {}).get(mod, ())
                             if m in fails_alone and canonicalize_name(fails_alone[m][0])
                             != canonicalize_name(r["dist"])})
            if mod in blames:
                other, other_version, where = blames[mod]
                line += f"; at fault: {other} {other_version} ({_short(where)})"
                if canonicalize_name(other) in failing:
                    line += ", which fails to import on its own too"
                caused.append(line)
            elif loaded:  # e.g. argopy's lazy imports: pyarrow fails inside, unseen
                line += "; loaded while it failed: " + ", ".join(
                    f"{d} {v}" for d, v in loaded) + (
                    ", which fails to import on its own (the likely cause)" if len(loaded) == 1
                    else ", which fail to import on their own (the likely cause)")
                caused.append(line)
            else:
                own.append(line)
    problems = own + caused
    n_dists = sum(1 for r in results if not (r.get("missing") and r.get("optional")))
    detail = f"{n_mods} top-level modules of {n_dists} locked distributions"
    if problems:
        return Check("imports", "fail", detail + f": {len(problems)} problem(s)",
                     tuple(problems + [f"note: {n}" for n in notes]))
    detail += " import, each distribution in its own interpreter"
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

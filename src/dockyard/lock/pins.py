"""Which of the project's lock entries apply to the target, before any of them binds (pure).

A poetry.lock or uv.lock is made for every Python and platform the project
supports, so it may list a package more than once: `zarr 2.17.2` where
`python_version < "3.11"` and `3.1.5` where `>= "3.11"`, torch from PyPI and
`2.9.1+cu128` from the PyTorch index behind an extra. Taking every entry as
a pin gives "cannot be satisfied together". Instead, the lock is walked the
way an installer reads it: from the project's own requirements (the chosen
groups and extras), along each entry's dependency edges whose markers hold
for the target (Python version, `sys_platform`, `platform_machine`, the
extras asked of each package, uv's conflict extras), to the entries whose
version the edge allows. What the walk reaches is what applies.

Requirement files with hashes, conda-lock and pixi.lock records have no
edges: an entry applies when its marker (or its platform) does.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..spec import LockEdge, Pin, ProjectLock, ProjectSpec, PypiRequirement
from .model import Note

_MACHINE = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le",
            "osx-64": "x86_64", "osx-arm64": "arm64", "win-64": "AMD64"}


@dataclass(frozen=True, slots=True)
class TargetEnv:
    """The marker environment of the target: never the machine dockyard runs on."""

    python: str  # "3.12.11" or "3.12"
    platform: str = "linux-64"  # conda subdir
    extras: frozenset[str] = frozenset()  # the project's extras chosen
    groups: frozenset[str] = frozenset()  # the project's groups chosen (PEP 735 / poetry)

    @property
    def full_python(self) -> str:
        return self.python if self.python.count(".") >= 2 else f"{self.python}.0"

    def environment(self, extras: Iterable[str] = ()) -> dict[str, object]:
        os_ = self.platform.split("-", 1)[0]
        sys_platform = {"linux": "linux", "osx": "darwin", "win": "win32"}.get(os_, os_)
        return {
            "python_version": ".".join(self.python.split(".")[:2]),
            "python_full_version": self.full_python,
            "implementation_version": self.full_python,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": sys_platform,
            "platform_system": {"linux": "Linux", "darwin": "Darwin",
                                "win32": "Windows"}.get(sys_platform, sys_platform),
            "os_name": "nt" if sys_platform == "win32" else "posix",
            "platform_machine": _MACHINE.get(self.platform, ""),
            "platform_release": "", "platform_version": "",
            "extra": frozenset(extras),
        }


def holds(marker: str, env: TargetEnv, extras: Iterable[str] = ()) -> bool:
    """Whether `marker` holds for the target with `extras` asked; an unreadable marker holds
    (a lock entry is then kept rather than silently dropped)."""
    if not marker.strip():
        return True
    try:
        return Marker(marker).evaluate(env.environment(extras))  # type: ignore[arg-type]
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, TypeError):
        return True


def python_allows(specifier: str, python: str) -> bool:
    if not specifier:
        return True
    try:
        return SpecifierSet(specifier).contains(python, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _allows(specifier: str, version: str) -> bool:
    if not specifier:
        return True
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _same_source(a: str | None, b: str | None) -> bool:
    def norm(u: str) -> str:
        return u.rstrip("/").removesuffix(".git").removesuffix("/simple").lower()
    return a is None or b is None or norm(a) == norm(b)


@dataclass
class _Walk:
    lock: ProjectLock
    env: TargetEnv
    root_extras: frozenset[str]  # what `extra ==` means for the root's and uv's markers
    by_name: dict[str, list[Pin]] = field(default_factory=dict)
    reached: dict[tuple[str, str, int | None], Pin] = field(default_factory=dict)
    extras_seen: dict[tuple[str, str, int | None], set[str]] = field(default_factory=dict)
    ambiguous: dict[str, set[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for pin in self.lock.pins:
            self.by_name.setdefault(pin.name, []).append(pin)

    def candidates(self, edge: LockEdge, git: str | None = None) -> list[Pin]:
        found = self.by_name.get(edge.name, [])
        if edge.version is not None:
            found = [p for p in found if p.version == edge.version]
        if edge.source is not None:
            found = [p for p in found if _same_source(edge.source, p.index or p.url)]
        if edge.specifier:
            found = [p for p in found if _allows(edge.specifier, p.version)]
        if git is not None and len(found) > 1:
            found = [p for p in found if p.commit] or found
        if len(found) > 1:  # the entries' own markers and Pythons decide between them
            env = self.env
            found = [p for p in found if python_allows(p.requires_python, env.full_python)
                     and holds(p.marker, env, self.root_extras)] or found
        return found

    def visit(self, edge: LockEdge, extras: Iterable[str], root: bool = False,
              git: str | None = None) -> None:
        if edge.marker and not holds(edge.marker, self.env, extras):
            return
        found = self.candidates(edge, git)
        if not found:
            if root:
                self.missing.append(edge.name)
            return
        if len(found) > 1:
            self.ambiguous.setdefault(edge.name, set()).update(p.version for p in found)
        for pin in found:
            key = (pin.name, pin.version, pin.line)
            seen = self.extras_seen.setdefault(key, set())
            new = set(edge.extras) - seen
            if key in self.reached and not new:
                continue
            self.reached[key] = pin
            seen |= new
            self.expand(pin, edge.extras if key in self.reached else ())

    def expand(self, pin: Pin, extras: Iterable[str]) -> None:
        extras = set(extras)
        # poetry marks optional dependencies and lists them per extra; uv gives each extra
        # its own edges. Either way an extra asked of this package turns them on.
        turned_on = {e.name for x, edges in pin.extras if x in extras for e in edges}
        marker_extras = extras | self.root_extras if self.lock.kind == "uv" else extras
        for edge in pin.depends:
            if edge.optional and edge.name not in turned_on:
                continue
            self.visit(edge, marker_extras)
        if self.lock.kind == "uv":
            for extra, edges in pin.extras:
                if extra in extras:
                    for edge in edges:
                        self.visit(edge, marker_extras)


def _uv_conflict_extras(project: str | None, env: TargetEnv) -> frozenset[str]:
    """uv encodes the project's extras and groups in markers: `extra-8-nanochat-gpu`."""
    if not project:
        return frozenset(env.extras)
    coded = {f"extra-{len(project)}-{project}-{e}" for e in env.extras}
    coded |= {f"group-{len(project)}-{project}-{g}" for g in env.groups}
    return frozenset(env.extras) | frozenset(coded)


def _root_edges(lock: ProjectLock, spec: ProjectSpec, wanted: set[str]) -> list[
        tuple[LockEdge, str | None]]:
    if lock.roots:
        return [(e, None) for group, edges in lock.roots if group in wanted for e in edges]
    pyproject = posixpath.join(lock.file.rpartition("/")[0], "pyproject.toml")
    reqs: list[PypiRequirement] = [r for r in spec.pypi if r.group in wanted
                                   and r.origin.file == pyproject]
    return [(LockEdge(r.name, r.specifier, r.marker, r.extras), r.git.url if r.git else None)
            for r in reqs]


def lock_pins(lock: ProjectLock, spec: ProjectSpec, env: TargetEnv,
              wanted: set[str]) -> tuple[list[Pin], list[Note]]:
    """The entries of one lock that apply to the target, and what is worth telling."""
    notes: list[Note] = []
    if lock.requires_python and not python_allows(lock.requires_python, env.full_python):
        notes.append(Note("*", f"{lock.file} was made for Python {lock.requires_python}, not "
                               f"the target's {env.python}: its pins may not all resolve"))
    if not lock.pins:  # fv3net's poetry.lock: an empty stub
        return [], notes
    if not lock.walk:
        applies = [p for p in lock.pins if holds(p.marker, env)]
        # conda-lock's pip records over a conda record of the same package (pip upgraded
        # setuptools in the developers' environment): one owner, so conda's record binds
        conda = {canonicalize_name(p.name): p for p in applies if p.manager == "conda"}
        for p in [p for p in applies if p.manager == "pypi" and p.name in conda]:
            applies.remove(p)
            notes.append(Note(p.name, f"{lock.file} has {p.name} {p.version} from pip over "
                                      f"conda's {conda[p.name].version}; conda owns it in "
                                      "dockyard's lock, so conda's record binds"))
        return applies, notes
    root_extras = (_uv_conflict_extras(lock.project, env) if lock.kind == "uv"
                   else frozenset(env.extras))
    walk = _Walk(lock, env, root_extras)
    for edge, git in _root_edges(lock, spec, wanted):
        walk.visit(edge, root_extras, root=True, git=git)
    pins = []
    for (name, _version, _line), pin in sorted(walk.reached.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2] or 0)):
        if name in walk.ambiguous or pin.local:
            continue
        pins.append(pin)
    for name, versions in sorted(walk.ambiguous.items()):
        notes.append(Note(name, f"{lock.file} lists {name} {', '.join(sorted(versions))} and "
                                "does not say which one the target gets; none of them is "
                                "pinned"))
    if walk.missing:
        names = ", ".join(sorted(set(walk.missing)))
        notes.append(Note("*", f"{lock.file} has no entry for {names}, which the project "
                               "asks for: the lock is older than pyproject.toml (run `"
                               f"{'uv lock' if lock.kind == 'uv' else 'poetry lock'}`); "
                               "those are resolved without a pin"))
    return pins, notes


def target_pins(spec: ProjectSpec, env: TargetEnv, wanted: set[str]) -> tuple[
        tuple[Pin, ...], tuple[Note, ...]]:
    """Every lock entry that applies to the target, over all of the project's locks."""
    pins: list[Pin] = []
    notes: list[Note] = []
    results = [(lock, *lock_pins(lock, spec, env, wanted)) for lock in spec.locks]
    # Two conda locks of one environment (conda-lock.yml and conda-linux-64.lock) that
    # disagree: the one the environment file agrees with binds, the other is told.
    conda_locks = [r for r in results if r[0].kind in ("conda-lock", "pixi")]
    if len(conda_locks) > 1:
        stale = {lock.file: [p for p in found if _excluded_by(p, spec)]
                 for lock, found, _ in conda_locks}
        fresh = [lock.file for lock, _, _ in conda_locks if not stale[lock.file]]
        if len(fresh) == 1:
            for lock, _, _ in conda_locks:
                if lock.file != fresh[0]:
                    first = stale[lock.file][0]
                    notes.append(Note("*", f"{lock.file} is older than the environment file "
                                           f"({len(stale[lock.file])} pins it excludes, e.g. "
                                           f"{first.name} {first.version}); {fresh[0]} "
                                           "agrees with it and binds instead"))
            results = [r for r in results if r[0].kind not in ("conda-lock", "pixi")
                       or r[0].file == fresh[0]]
    for _, found, said in results:
        pins += found
        notes += said
    pins = _fresh(pins, spec, notes)
    return _one_per_name(pins, notes)


def _fresh(pins: list[Pin], spec: ProjectSpec, notes: list[Note]) -> list[Pin]:
    """A pin the project's own files now exclude is stale: the lock is older than them.

    fv3net's conda-lock.yml pins setuptools 62.2.0 where environment.yml asks for
    setuptools==59.8.0: binding both would make the solve fail for no reason the
    developers wrote. The file wins; the stale pin is dropped and told."""
    out = []
    for pin in pins:
        excluded = _excluded_by(pin, spec)
        if excluded:
            notes.append(Note(pin.name, f"{pin.where} pins {pin.name} {pin.version}, which "
                                        f"{excluded} excludes: the lock is older than that "
                                        "file; the pin is not applied (re-lock to refresh it)"))
        else:
            out.append(pin)
    return out


def _excluded_by(pin: Pin, spec: ProjectSpec) -> str | None:
    if pin.manager == "conda":
        from rattler import Version as CondaVersion
        from rattler import VersionSpec

        for c in spec.conda:
            version = c.spec.split(None, 1)[1].split(" ")[0] if " " in c.spec else ""
            if c.name != pin.name or not version:
                continue
            try:
                if not VersionSpec(version).matches(CondaVersion(pin.version)):
                    return f"{c.origin} (`{c.spec}`)"
            except Exception:  # rattler's parse errors: the spec was checked when read
                continue
        return None
    for r in (*spec.pypi, *spec.conda_pip):
        if r.name != pin.name or not r.specifier or r.marker or pin.commit:
            continue
        if not _allows(r.specifier, pin.version):
            return f"{r.origin} (`{r.name}{r.specifier}`)"
    return None


def _one_per_name(pins: list[Pin], notes: list[Note]) -> tuple[tuple[Pin, ...],
                                                               tuple[Note, ...]]:
    """Two locks (or two files) that pin one package differently cannot both bind."""
    by: dict[tuple[str, str], list[Pin]] = {}
    for p in pins:
        by.setdefault((p.manager, p.name), []).append(p)
    out: list[Pin] = []
    for (_, name), found in sorted(by.items()):
        versions = {(p.version, p.commit) for p in found}
        if len(versions) > 1:
            said = "; ".join(f"{p.where} pins {p.version}" for p in found)
            notes.append(Note(name, f"the project's locks disagree ({said}): none is pinned"))
            continue
        out.append(found[0])
    return tuple(out), tuple(notes)


@dataclass(frozen=True, slots=True)
class PinCheck:
    """How a lock kept the project's pins that apply to its target."""

    honoured: tuple[Pin, ...]
    missed: tuple[tuple[Pin, str], ...]  # the pin, and what the lock has instead
    skipped: tuple[tuple[Pin, str], ...]  # pins that bind nothing here, and why
    # in force, but nothing in the target's resolution needs the package (a constraint
    # never adds one): matplotlib 3.7's sdist metadata asked for setuptools-scm, its wheel
    # does not
    absent: tuple[Pin, ...] = ()

    @property
    def applicable(self) -> int:
        return len(self.honoured) + len(self.missed)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def check_pins(pins: Iterable[Pin], packages: Iterable[object], *,
               tools: Iterable[str] = (), unpin: Iterable[str] = (),
               flat: Iterable[str] = ()) -> PinCheck:
    """Compare the pins in force with a lock's packages (`LockedPackage`s): versions, and
    commits for git pins. Tools dockyard leaves out and `[install] unpin` do not count,
    nor entries of `flat` lock files (conda-lock, pixi, hashed requirements: no edges to
    say what needs them) whose package the solve does not install."""
    flat = set(flat)
    pkgs = list(packages)
    tools = {canonicalize_name(t) for t in tools}
    unpin = {canonicalize_name(n) for n in unpin}
    honoured: list[Pin] = []
    missed: list[tuple[Pin, str]] = []
    skipped: list[tuple[Pin, str]] = []
    absent: list[Pin] = []
    for pin in pins:
        if pin.name in unpin:
            skipped.append((pin, "[install] unpin"))
            continue
        if pin.manager == "conda":
            found = next((p for p in pkgs if p.owner == "conda"
                          and p.name == pin.name), None)
        else:
            found = next((p for p in pkgs if p.name == pin.name
                          or pin.name in getattr(p, "provides", ())), None)
        if found is None:
            if pin.name in tools:
                skipped.append((pin, "a tool dockyard leaves out of the image"))
            elif pin.source in flat:
                skipped.append((pin, "not in the solve (a flat lock lists the whole "
                                     "environment, tools and their dependencies too)"))
            else:
                absent.append(pin)
            continue
        version = found.version
        if not _same_version(pin.version, version):
            missed.append((pin, f"{found.owner} {version}"))
        elif pin.commit and getattr(found, "commit", "") and found.commit != pin.commit:  # type: ignore[attr-defined]
            missed.append((pin, f"commit {found.commit[:12]}"))  # type: ignore[attr-defined]
        else:
            honoured.append(pin)
    return PinCheck(tuple(honoured), tuple(missed), tuple(skipped), tuple(absent))

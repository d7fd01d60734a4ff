"""Who owns what: the pure rules between the project's requests and the two solves.

No filesystem, network or subprocess here; `resolve.lock_project` feeds these
functions the solver results and they return data. The rules, as the README
documents them:

1. Tools that manage environments (poetry, conda, uv...) are not runtime
   dependencies: dropped, with a note.
2. A distribution asked for from conda AND PyPI is owned by conda unless
   dockyard.toml's `[sources]` says "pypi" (pixi's rule: conda wins).
3. The project's PyPI constraints (and pins, and dockyard.toml constraints)
   on a package conda provides bind the conda solve.
4. A Python distribution installed by the conda solve is not resolved again
   from PyPI: uv sees it as `name==<conda version>` and the PyPI copy is
   dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import LockError
from ..spec import CondaRequirement, GitSource, Origin, Pin, ProjectSpec, PypiRequirement
from .model import LockedPackage, Note


def norm(name: str) -> str:
    return canonicalize_name(name)


@dataclass(frozen=True, slots=True)
class Requests:
    """What goes to each resolver, decided before either runs."""

    conda: tuple[CondaRequirement, ...]
    pypi: tuple[PypiRequirement, ...]
    pypi_constraints: tuple[str, ...]  # PEP 508: pins, dockyard.toml constraints
    conda_constraints: tuple[str, ...]  # match specs: the project's PyPI constraints
    owners: tuple[tuple[str, str, str], ...]  # (name, owner, why) for doubly-asked packages
    notes: tuple[Note, ...]
    pypi_only: tuple[str, ...] = ()  # [sources] NAME = "pypi": conda must not bring it
    binding: tuple[PypiRequirement, ...] = ()  # every PyPI request, incl. those conda owns
    pins: tuple[Pin, ...] = ()  # the project-lock pins in force for the target
    git_pins: tuple[GitPin, ...] = ()  # git requests moved to the commit a lock recorded


@dataclass(frozen=True, slots=True)
class GitPin:
    """A git request (a branch, a tag, the default branch) pinned to a lock's commit."""

    name: str
    url: str
    kind: str  # what the project asks for: "branch", "tag", "rev", "default"
    ref: str | None
    commit: str
    where: str  # the lock entry: "poetry.lock:1055"


def wanted_groups(spec: ProjectSpec) -> set[str]:
    """main, the non-optional poetry groups, and what dockyard.toml adds."""
    groups = {r.group for r in spec.pypi if not r.group.startswith("extra:")}
    groups -= set(spec.optional_groups)
    groups |= {"main"} | set(spec.settings.groups) | set(spec.selected_groups)
    groups |= {f"extra:{e}" for e in spec.settings.extras}
    return groups


def pep440_to_conda(name: str, specifier: str) -> str | None:
    """`numpy`, `>=1.25,<2.0.0` -> `numpy >=1.25,<2.0.0`; None when conda cannot say it."""
    try:
        specs = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    parts = []
    for s in sorted(specs, key=str):
        op, version = s.operator, s.version
        if op == "===":
            op = "=="
        if op == "==" and version.endswith(".*"):
            op = ""
        if op == "!=" and version.endswith(".*"):
            return None
        parts.append(f"{op}{version}")
    return f"{name} {','.join(parts)}" if parts else name


def _conda_to_pep440(spec: str) -> str:
    """`numpy >=1.25,<2` -> `>=1.25,<2`; anything conda-only (builds, `1.2.*=py*`) -> ""."""
    parts = spec.split(None, 1)
    if len(parts) < 2 or " " in parts[1].strip():
        return ""
    text = parts[1].strip()
    if text[0].isdigit():  # conda's `1.2.*` / `1.2` mean ==
        text = f"=={text}"
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        return ""


def select(spec: ProjectSpec, tools: Iterable[str],
           pins: Iterable[Pin] | None = None) -> Requests:
    """Split the project's requests between conda and PyPI (rules 1 and 2).

    `pins` are the project-lock entries that apply to the target
    (`pins.target_pins`); by default every pin the spec holds.
    """
    tools = {norm(t) for t in tools}
    settings = spec.settings
    notes: list[Note] = []
    groups = wanted_groups(spec)
    unpin = {norm(n) for n in settings.unpin}
    in_force = tuple(p for p in (spec.pins if pins is None else pins)
                     if settings.honour_project_lock and p.name not in unpin)
    pypi = [r for r in spec.pypi if r.group in groups]
    pip_section = []
    for r in spec.conda_pip:
        if r.name in tools:
            notes.append(_tool_note(r.name, r.origin))
        elif spec.name and r.name == norm(spec.name) and r.path in (".", ""):
            notes.append(Note(r.name, f"{r.origin} installs the project itself: dockyard "
                                      "builds it into the image after the environment; its "
                                      "dependencies come from pyproject.toml"))
        else:
            pip_section.append(r)
    pypi += pip_section
    asked = list(pypi)  # every PyPI request binds conda, even one that conda then owns
    conda = []
    for c in spec.conda:
        if norm(c.name) in tools:
            notes.append(_tool_note(c.name, c.origin))
        else:
            conda.append(c)

    owners: list[tuple[str, str, str]] = []
    pypi_only: list[str] = []
    conda_names = {norm(c.name): c for c in conda}
    asked_pypi: dict[str, list[PypiRequirement]] = {}
    for r in pypi:
        asked_pypi.setdefault(r.name, []).append(r)
    for name in sorted(set(conda_names) & set(asked_pypi)):
        c, rs = conda_names[name], asked_pypi[name]
        where = f"conda ({c.origin}) and PyPI ({rs[0].origin})"
        if settings.source_for(name) == "pypi":
            conda = [x for x in conda if norm(x.name) != name]
            pypi_only.append(name)
            why = f"asked for from {where}; dockyard.toml [sources] {name} = \"pypi\""
            owners.append((name, "pypi", why))
            notes.append(Note(name, f"conda request {c.spec!r} dropped: {why}"))
        else:
            pypi = [r for r in pypi if r.name != name]
            how = ("dockyard.toml [sources]" if settings.source_for(name) == "conda"
                   else "the default: conda wins; set [sources] "
                        f"{name} = \"pypi\" in dockyard.toml to change it")
            why = f"asked for from {where}; conda owns it ({how})"
            owners.append((name, "conda", why))
            dropped = ", ".join(sorted({r.pep508() for r in rs}))
            notes.append(Note(name, f"PyPI request {dropped} dropped: {why}"))
    # [sources] NAME = "conda" for a package only PyPI asks for: conda takes it over.
    for name, owner in settings.sources:
        name = norm(name)
        if owner == "conda" and name in asked_pypi and name not in conda_names:
            rs = asked_pypi[name]
            specs = [s for s in (pep440_to_conda(name, r.specifier) for r in rs) if s]
            conda.append(CondaRequirement(name, specs[0] if specs else name,
                                          origin=settings.origin))
            pypi = [r for r in pypi if r.name != name]
            why = (f"asked for from PyPI ({rs[0].origin}); "
                   f"dockyard.toml [sources] {name} = \"conda\"")
            owners.append((name, "conda", why))
            notes.append(Note(name, f"taken from conda instead of PyPI: {why}"))
        elif owner == "pypi" and name in conda_names and name not in asked_pypi:
            c = conda_names[name]
            conda = [x for x in conda if norm(x.name) != name]
            pypi.append(PypiRequirement(name, _conda_to_pep440(c.spec), origin=settings.origin))
            pypi_only.append(name)
            why = f"asked for from conda ({c.origin}); dockyard.toml [sources] {name} = \"pypi\""
            owners.append((name, "pypi", why))
            notes.append(Note(name, f"taken from PyPI instead of conda: {why}"))
        elif owner == "pypi":
            pypi_only.append(name)

    # the requests as written stay in `asked` (a tag names a version); uv gets the commit
    pypi, git_pins = _pin_git(pypi, in_force)
    constraints = list(settings.constraints)
    constraints += [f"{p.name}=={p.version}" for p in in_force
                    if p.manager == "pypi" and not p.commit and _is_version(p.version)]
    # A git pin's version binds conda too, should conda own the package (xesmf 0.9.2).
    versions = [f"{p.name}=={p.version}" for p in in_force
                if p.manager == "pypi" and p.commit and _is_version(p.version)]
    conda_pins = tuple(f"{p.name} =={p.version}" for p in in_force if p.manager == "conda")
    return Requests(
        conda=tuple(conda),
        pypi=tuple(pypi),
        pypi_constraints=tuple(dict.fromkeys(constraints)),
        conda_constraints=(conda_constraints(asked, [*constraints, *versions]) + conda_pins
                           if conda else ()),
        owners=tuple(owners),
        notes=tuple(notes),
        pypi_only=tuple(sorted(set(pypi_only))),
        binding=tuple(asked),
        pins=in_force,
        git_pins=git_pins,
    )


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def same_repository(a: str, b: str) -> bool:
    """Two spellings of one git repository (`.git`, a trailing slash, the host's case)."""
    def norm_url(url: str) -> str:
        url = url.split("#", 1)[0].split("?", 1)[0].rstrip("/").removesuffix(".git")
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        return f"{host.lower()}/{path}"
    return norm_url(a) == norm_url(b)


def _pin_git(reqs: list[PypiRequirement], pins: Iterable[Pin]) -> tuple[
        list[PypiRequirement], tuple[GitPin, ...]]:
    """A git request goes to the commit the project's lock recorded for it (rule 5)."""
    commits = {p.name: p for p in pins if p.commit}
    out, pinned = [], []
    for r in reqs:
        pin = commits.get(r.name)
        if r.git is not None and pin is not None and pin.commit and (
                not pin.url or same_repository(pin.url, r.git.url)):
            if r.git.ref != pin.commit:
                pinned.append(GitPin(r.name, r.git.url, r.git.kind, r.git.ref, pin.commit,
                                     pin.where))
                r = replace(r, git=GitSource(r.git.url, "rev", pin.commit, r.git.subdirectory))
        out.append(r)
    return out, tuple(dict.fromkeys(pinned))


def conda_constraints(
    pypi: Iterable[PypiRequirement], extra: Iterable[str] = (),
    names: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """PyPI specifiers as conda constraints (rule 3); `names` maps PyPI -> conda names."""
    names = names or {}
    out: list[str] = []
    items = [(r.name, r.specifier) for r in pypi if r.specifier and not r.marker
             and r.git is None and r.url is None and r.path is None]
    for line in extra:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if str(req.specifier) and not req.marker:
            items.append((norm(req.name), str(req.specifier)))
    for name, specifier in items:
        text = pep440_to_conda(names.get(name, name), specifier)
        if text:
            out.append(text)
    return tuple(dict.fromkeys(out))


def provided(conda_pkgs: Iterable[LockedPackage]) -> dict[str, LockedPackage]:
    """PyPI distribution name -> the conda package that installs it."""
    return {d: p for p in conda_pkgs for d in p.provides}


def pypi_pins_from_conda(
    conda_pkgs: Iterable[LockedPackage], versions: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """`name==<conda version>` for each distribution conda installs (rule 4)."""
    versions = versions or {}
    out = []
    for dist, pkg in sorted(provided(conda_pkgs).items()):
        version = versions.get(dist, pkg.version)
        try:
            Version(version)
        except InvalidVersion:
            continue  # not a PEP 440 version: uv could not use it anyway
        out.append(f"{dist}=={version}")
    return tuple(out)


def _tool_note(name: str, origin: Origin) -> Note:
    return Note(
        name,
        f"{name} ({origin}) manages environments and is not a runtime dependency: dockyard "
        "installs from its own lock and leaves it out of the image",
    )


def _requested(reqs: Iterable[PypiRequirement]) -> dict[str, list[PypiRequirement]]:
    out: dict[str, list[PypiRequirement]] = {}
    for r in reqs:
        out.setdefault(r.name, []).append(r)
    return out


def _dependents(pkgs: Iterable[LockedPackage]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in pkgs:
        for d in p.depends:
            out.setdefault(d, set()).add(p.name)
    return out


def merge(
    spec: ProjectSpec,
    requests: Requests,
    conda_pkgs: tuple[LockedPackage, ...],
    pypi_pkgs: tuple[LockedPackage, ...],
    mapping_notes: tuple[Note, ...] = (),
) -> tuple[tuple[LockedPackage, ...], tuple[Note, ...]]:
    """One owner per distribution, each with its reason; returns (packages, notes)."""
    notes = list(requests.notes) + list(mapping_notes)
    owners = {name: why for name, _, why in requests.owners}
    conda_req = {norm(c.name): c for c in requests.conda}
    by_dist = provided(conda_pkgs)
    conda_dependents = _dependents(conda_pkgs)
    check_pypi_only(requests, conda_pkgs)

    out: list[LockedPackage] = []
    for p in conda_pkgs:
        key = norm(p.name)
        if key in owners:
            reason = owners[key]
        elif key in conda_req:
            reason = f"requested in {conda_req[key].origin}"
        else:
            users = sorted(conda_dependents.get(p.name, ()))
            reason = (f"dependency of {', '.join(users)}" if users
                      else "pulled in by the conda solve")
        out.append(replace(p, reason=reason))

    asked = _requested(requests.pypi)
    pypi_dependents = _dependents(pypi_pkgs)
    dropped: dict[str, list[str]] = {}
    for p in pypi_pkgs:
        if p.name in by_dist:
            owner = by_dist[p.name]
            dropped.setdefault(owner.name, []).append(p.name)
            users = sorted(pypi_dependents.get(p.name, ()))
            needed = f" (needed on the PyPI side by {', '.join(users)})" if users else ""
            notes.append(Note(p.name, f"installed by conda package {owner.name} "
                                      f"{owner.version}; not resolved again from PyPI{needed}"))
            continue
        if p.name in owners:
            reason = owners[p.name]
        elif p.name in asked:
            reason = "requested in " + "; ".join(sorted({str(r.origin) for r in asked[p.name]}))
        else:
            users = sorted(pypi_dependents.get(p.name, ()))
            reason = f"dependency of {', '.join(users)}" if users else "pulled in by uv"
        groups = tuple(sorted({r.group for r in asked.get(p.name, ())}))
        out.append(replace(p, reason=reason, groups=groups))

    # The conda packages whose distributions PyPI packages also needed say so.
    final = []
    for p in out:
        if p.owner == "conda" and p.name in dropped:
            dists = ", ".join(sorted(dropped[p.name]))
            p = replace(p, reason=f"{p.reason}; provides {dists} to the PyPI side too")
        final.append(p)
    _assert_one_owner(final)
    return tuple(final), tuple(notes) + conda_overlaps(final)


def check_pypi_only(requests: Requests, conda_pkgs: tuple[LockedPackage, ...]) -> None:
    """`[sources] NAME = "pypi"` cannot hold when the conda solve still installs NAME."""
    by_dist = provided(conda_pkgs)
    conda_dependents = _dependents(conda_pkgs)
    for name in requests.pypi_only:
        installers = {p.name for p in conda_pkgs if norm(p.name) == name}
        if name in by_dist:
            installers.add(by_dist[name].name)
        if not installers:
            continue
        users = sorted(set().union(*(conda_dependents.get(i, set()) for i in installers)))
        raise LockError(
            f"{name} is to come from PyPI, but the conda solve installs it "
            f"(needed by conda packages: {', '.join(users) or 'none named'})",
            where="dockyard.toml ([sources])",
            hint=f"set {name} = \"conda\" in [sources], or remove the conda packages "
                 "that depend on it from environment.yml",
        )


def conda_specs(conda: Iterable[CondaRequirement], channels: Iterable[str]) -> tuple[
        tuple[str, ...], tuple[Note, ...]]:
    """Match specs for rattler; a `channel::name` pin is kept only if that channel is used."""
    used = set(channels)
    specs, notes = [], []
    for c in conda:
        if c.channel and (c.channel in used or any(u.rstrip("/").endswith("/" + c.channel)
                                                   for u in used)):
            specs.append(f"{c.channel}::{c.spec}")
        else:
            specs.append(c.spec)
            if c.channel:
                notes.append(Note(c.name, f"{c.origin} pins channel {c.channel!r}, which is not "
                                          "among the channels in use; the pin is ignored"))
    return tuple(specs), tuple(notes)


def _assert_one_owner(pkgs: Iterable[LockedPackage]) -> None:
    """PyPI never installs what conda installs. Two conda packages installing one
    distribution is the channel's business (conda solved them together): see
    `conda_overlaps`."""
    conda = {d for p in pkgs if p.owner == "conda" for d in p.provides}
    seen: set[str] = set()
    for p in pkgs:
        if p.owner != "pypi":
            continue
        if p.name in conda or p.name in seen:  # a bug in the rules above, not a user error
            raise AssertionError(f"{p.name} owned twice")
        seen.add(p.name)


def conda_overlaps(pkgs: Iterable[LockedPackage]) -> tuple[Note, ...]:
    """Conda packages that install the same PyPI distribution, said once each."""
    by: dict[str, list[str]] = {}
    for p in pkgs:
        for d in p.provides if p.owner == "conda" else ():
            by.setdefault(d, []).append(f"{p.name} {p.version}")
    return tuple(Note(d, f"installed by several conda packages ({', '.join(sorted(names))}); "
                         "conda solved them together, the last one installed wins its files")
                 for d, names in sorted(by.items()) if len(names) > 1)


def python_from_requires(requires_python: str | None) -> str | None:
    """The lowest CPython minor that requires-python allows (uv's choice too)."""
    if not requires_python:
        return None
    try:
        specs = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    for minor in range(8, 15):
        if Version(f"3.{minor}.99") in specs or Version(f"3.{minor}.0") in specs:
            return f"3.{minor}"
    return None


def tag_version(tag: str | None) -> str | None:
    """The version a git tag names (`v0.9.2` -> `0.9.2`); None if it names none."""
    if not tag:
        return None
    text = tag.rsplit("/", 1)[-1].lstrip("vV")
    try:
        return str(Version(text))
    except InvalidVersion:
        return None


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A request on a package conda owns that conda's version does not meet."""

    name: str  # the PyPI distribution
    conda: LockedPackage
    asked: str  # "pyproject.toml:42 (...) asks for git tag v0.9.2 (version 0.9.2)"


def conda_disagreements(requests: Requests, conda_pkgs: Iterable[LockedPackage]) -> tuple[
        Disagreement, ...]:
    """Rule 6: the owner meets every request on a package: the project's specifiers, the
    version of a git tag it asks for, and the project-lock pins in force."""
    by_dist = provided(conda_pkgs)
    out: list[Disagreement] = []

    def version_of(pkg: LockedPackage) -> Version | None:
        try:
            return Version(pkg.version)
        except InvalidVersion:
            return None

    for r in requests.binding:
        pkg = by_dist.get(r.name)
        have = version_of(pkg) if pkg else None
        if pkg is None or have is None or (r.marker and r.marker.strip()):
            continue
        if r.specifier:
            try:
                ok = SpecifierSet(r.specifier).contains(have, prereleases=True)
            except InvalidSpecifier:
                ok = True
            if not ok:
                out.append(Disagreement(r.name, pkg, f"{r.origin} asks for "
                                                     f"{r.name}{r.specifier}"))
        tagged = tag_version(r.git.ref) if r.git and r.git.kind == "tag" else None
        if tagged and Version(tagged) != have:
            out.append(Disagreement(r.name, pkg, f"{r.origin} asks for git tag {r.git.ref} "
                                                 f"(version {tagged}) of {r.git.url}"))
    for pin in requests.pins:
        pkg = by_dist.get(pin.name)
        have = version_of(pkg) if pkg else None
        if pin.manager != "pypi" or pkg is None or have is None or not _is_version(pin.version):
            continue
        if Version(pin.version) != have:
            what = f"commit {pin.commit[:12]}, version {pin.version}" if pin.commit \
                else pin.version
            out.append(Disagreement(pin.name, pkg, f"{pin.where} pins {pin.name} {what}"))
    return tuple(dict.fromkeys(out))


def disagreement_error(found: Iterable[Disagreement], spec: ProjectSpec) -> LockError:
    """Both origins, and the fixes: take it from PyPI, or ask conda for what PyPI asks."""
    found = list(found)
    first = found[0]
    conda_req = next((c for c in spec.conda if norm(c.name) == norm(first.conda.name)), None)
    owned = (f"conda owns it ({conda_req.origin} asks for {conda_req.spec!r})" if conda_req
             else "conda installs it as a dependency of the conda solve")
    lines = [f"{d.name}: conda's {d.conda.name} {d.conda.version} does not meet {d.asked}"
             for d in found]
    names = sorted({d.name for d in found})
    fixes = [f'take it from PyPI: [sources] {n} = "pypi" in dockyard.toml' for n in names]
    if conda_req:
        fixes.append(f"or ask conda for the version the PyPI side wants, in {conda_req.origin}"
                     " (if the channels have it)")
    fixes.append("or relax the PyPI request / the lock pin (then re-lock the project)")
    return LockError(
        f"the conda package does not satisfy every request on {', '.join(names)}; "
        f"{owned}:\n" + "\n".join(f"  {x}" for x in lines),
        where=str(conda_req.origin) if conda_req else None,
        hint="; ".join(fixes),
    )


def python_error(python: str, spec: ProjectSpec, chosen_by: str) -> LockError | None:
    """requires-python against the target's interpreter (rule 7)."""
    if not spec.requires_python:
        return None
    try:
        ok = SpecifierSet(spec.requires_python).contains(
            python if python.count(".") >= 2 else f"{python}.0", prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None
    if ok:
        return None
    where = str(spec.requires_python_origin) if spec.requires_python_origin else None
    allowed = [f"3.{m}" for m in range(8, 15)
               if SpecifierSet(spec.requires_python).contains(f"3.{m}.99", prereleases=True)
               or SpecifierSet(spec.requires_python).contains(f"3.{m}.0", prereleases=True)]
    hint = (f'set [target] python = "{allowed[-1]}" in dockyard.toml (the project allows '
            f"{', '.join(allowed)})" if allowed else
            "the project allows no CPython 3.8-3.14: fix requires-python")
    if "environment" in chosen_by or ".yml" in chosen_by or ".yaml" in chosen_by:
        hint += f", and the Python pin of {chosen_by}"
    return LockError(f"the project requires Python {spec.requires_python}, but the target's "
                     f"Python is {python} (from {chosen_by})", where=where, hint=hint)

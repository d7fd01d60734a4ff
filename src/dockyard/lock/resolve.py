"""ProjectSpec -> Lock: the conda solve first, then uv, then one owner per distribution.

The two resolvers are effects injected as parameters (real ones by default);
everything between them is `rules`, pure and unit-tested with plain data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..errors import LockError
from ..spec import Index, Origin, Pin, ProjectSpec, PypiRequirement, Settings
from . import conda, pypi, rules
from . import pins as pins_mod
from .model import Lock, LockedPackage, Note, Source, Target, hash_inputs

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def inputs_hash(spec: ProjectSpec) -> str:
    """The lock's fingerprint: every input file's bytes (by sha256) plus the settings."""
    parts = {f"file:{f.path}": f.sha256.encode() for f in spec.inputs}
    parts["settings"] = repr(spec.settings).encode()
    return hash_inputs(parts)


KERNEL = "ipykernel"


def with_kernel(spec: ProjectSpec) -> ProjectSpec:
    """The image registers the env as a Jupyter kernel, so the lock must hold ipykernel.

    Added as a deployment requirement (dockyard.toml `[install] kernel`, on by default)
    unless the project already asks for it from either side.
    """
    if not spec.settings.kernel:
        return spec
    asked = {r.name for r in (*spec.pypi, *spec.conda_pip)}
    asked |= {rules.norm(c.name) for c in spec.conda}
    if KERNEL in asked:
        return spec
    origin = Origin(spec.settings.origin.file, field="install.kernel (default: true)")
    return replace(spec, pypi=(*spec.pypi, PypiRequirement(KERNEL, origin=origin)))


def _default_tools() -> Iterable[str]:
    from ..sources import TOOLS  # H1's list; imported late: no work at import time

    return TOOLS


def indexes_of(spec: ProjectSpec) -> tuple[Index, ...]:
    """The project's indexes, with dockyard.toml's replacing any of the same name."""
    merged = {i.name: i for i in spec.indexes}
    merged.update({i.name: i for i in spec.settings.indexes})
    return tuple(merged.values())


def conda_where(spec: ProjectSpec) -> str:
    return spec.conda[0].origin.file if spec.conda else "environment.yml"


def pypi_request(spec: ProjectSpec, requests: rules.Requests,
                 conda_pkgs: Iterable[LockedPackage], python: str) -> pypi.Request:
    """What uv is asked: the PyPI requests, bound by pins and by what conda installs."""
    settings = spec.settings
    return pypi.Request(
        requirements=requests.pypi,
        target=pypi.Target(python=python, platform=settings.platform, glibc=settings.glibc),
        constraints=(*requests.pypi_constraints, *rules.pypi_pins_from_conda(conda_pkgs)),
        indexes=indexes_of(spec),
        routes=settings.routes,
        root=spec.root,
        find_links=spec.find_links,
        dependency_metadata=spec.dependency_metadata,
    )


def first_python(spec: ProjectSpec) -> tuple[str | None, str]:
    """The target Python as known before any solve, and what says so.

    dockyard.toml's [target] python, else the environment file's python pin, else the
    lowest minor that requires-python allows (narrowed to the Pythons the project's
    lock was made for, so that its pins apply).
    """
    from ..sources.initfile import interpreter

    if spec.settings.python:
        return spec.settings.python, f"{spec.settings.origin.file} ([target] python)"
    pinned, _ = interpreter(spec)
    if pinned:
        c = next(c for c in spec.conda if c.name == "python")
        return pinned, str(c.origin)
    env = pins_mod.TargetEnv("3.12", spec.settings.platform)  # the platform is what matters
    locked = [p for p in spec.pins if p.manager == "conda" and p.name == "python"
              and pins_mod.holds(p.marker, env)]
    if spec.conda and len({p.version for p in locked}) == 1:
        return _minor(locked[0].version), f"{locked[0].source} (its python record)"
    made_for = [lock.requires_python for lock in spec.locks if lock.requires_python]
    for extra in ([made_for[0]] if made_for else []) + [None]:
        both = ",".join(x for x in (spec.requires_python, extra) if x)
        found = rules.python_from_requires(both or None)
        if found:
            why = f"the lowest Python that requires-python {spec.requires_python!r} allows" \
                if spec.requires_python else "the lowest Python the project's lock was made for"
            if extra and spec.requires_python:
                why += f" and {spec.locks[0].file} was made for"
            return found, why
    return None, ""


def bind_pins(spec: ProjectSpec, python: str | None) -> tuple[tuple[Pin, ...], tuple[Note, ...]]:
    """The project-lock pins that apply to the target (see `dockyard.lock.pins`)."""
    if not spec.locks or python is None:
        return (), ()
    env = pins_mod.TargetEnv(python, spec.settings.platform, frozenset(spec.settings.extras),
                             frozenset((*spec.settings.groups, *spec.selected_groups)))
    return pins_mod.target_pins(spec, env, rules.wanted_groups(spec))


def target_spec(spec: ProjectSpec, python: str) -> ProjectSpec:
    """`spec` with only the pins in force for `python`: what the CUDA review reads."""
    pins, _ = bind_pins(spec, python)
    unpin = set(spec.settings.unpin)
    return replace(spec, pins=tuple(p for p in pins if p.name not in unpin))


def _minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


def lock_project(
    spec: ProjectSpec,
    *,
    progress: Progress | None = None,
    solve_conda: Callable[[conda.Request], tuple[LockedPackage, ...]] = conda.solve,
    read_conda: Callable[..., tuple[tuple[LockedPackage, ...], tuple[Note, ...]]] = (
        conda.distributions),
    compile_pypi: Callable[..., tuple[LockedPackage, ...]] = pypi.compile,
    tools: Iterable[str] | None = None,
    git_head: Callable[[str, str, str | None], str] | None = None,
) -> Lock:
    """Resolve the project into one Lock (see README "How dockyard locks")."""
    say = progress or (lambda _line: None)
    spec = with_kernel(spec)
    settings = spec.settings
    tools = tuple(_default_tools() if tools is None else tools)
    guess, chosen_by = first_python(spec)
    if guess and (problem := rules.python_error(guess, spec, chosen_by)):
        raise problem
    pins, pin_notes = bind_pins(spec, guess)
    requests = rules.select(spec, tools, pins)
    requests = replace(requests, notes=requests.notes + pin_notes)

    conda_pkgs: tuple[LockedPackage, ...] = ()
    mapping_notes: tuple[Note, ...] = ()
    channels = conda.channels_of(settings.channels or spec.channels)
    if requests.conda:
        conda_pkgs, mapping_notes, requests = _solve_conda(
            spec, requests, channels, say, solve_conda, read_conda)

    python = next((p.version for p in conda_pkgs if p.name == "python"), None)
    if python:
        chosen_by = f"the conda solve ({conda_where(spec)})"
    python = python or guess
    if python is None:
        if spec.requires_python:
            raise LockError(
                f"requires-python {spec.requires_python!r} allows no CPython 3.8-3.14",
                where=str(spec.requires_python_origin or "pyproject.toml"),
                hint="fix requires-python (and the lock made with it)")
        raise LockError(
            "cannot tell which Python to lock for: nothing in the project names one",
            where=f"{settings.origin.file} (target.python)",
            hint='set [target] python = "3.12" in dockyard.toml (the platform\'s Python), '
                 "or requires-python in pyproject.toml",
        )
    if problem := rules.python_error(python, spec, chosen_by):
        raise problem
    if _minor(python) != _minor(guess):  # the conda solve chose: the pins follow it
        pins, pin_notes = bind_pins(spec, python)
        again = rules.select(spec, tools, pins)
        requests = replace(requests, pypi=again.pypi, pypi_constraints=again.pypi_constraints,
                           pins=again.pins, git_pins=again.git_pins,
                           notes=again.notes + pin_notes)

    pypi_pkgs: tuple[LockedPackage, ...] = ()
    indexes = indexes_of(spec)
    _check_paths(spec, requests.pypi)
    if requests.pypi:
        request_pypi = pypi_request(spec, requests, conda_pkgs, python)
        say(f"resolving {len(request_pypi.requirements)} PyPI requirements with uv")
        try:
            pypi_pkgs = compile_pypi(request_pypi, on_line=say)
        except LockError as exc:
            raise _explain_git_pins(_explain_conda_pins(exc, conda_pkgs),
                                    requests.git_pins) from None

    git_notes = _git_notes(requests.git_pins, git_head or _remote_head, say)
    packages, notes = rules.merge(spec, requests, conda_pkgs, pypi_pkgs,
                                  mapping_notes + git_notes)
    notes = tuple(Note("*", n) for n in spec.notes) + notes
    sources = [Source("channel", c, conda.channel_url(c)) for c in channels if conda_pkgs]
    if pypi_pkgs:
        if not any(i.default for i in indexes):
            sources.append(Source("index", "pypi", pypi.PYPI_SIMPLE))
        sources += [Source("index", i.name, i.url) for i in indexes]
    target = Target(
        platform=settings.platform, python=python, glibc=settings.glibc,
        cuda=settings.cuda or "",
        virtual_packages=conda.virtual_packages(settings.platform, settings.glibc, settings.cuda),
    )
    return Lock(
        inputs_hash=inputs_hash(spec), target=target, packages=packages,
        sources=tuple(sources), notes=notes,
    ).normalized()


def _solve_conda(spec: ProjectSpec, requests: rules.Requests, channels: tuple[str, ...],
                 say: Progress, solve_conda: Callable, read_conda: Callable) -> tuple[
        tuple[LockedPackage, ...], tuple[Note, ...], rules.Requests]:
    """The conda solve, bound by what the PyPI side asks; a clear error when it cannot be."""
    settings = spec.settings
    _check_cuda_pin(requests.pins, settings)
    target_python = (f"python {settings.python}.*",) if settings.python else ()
    derived = tuple(requests.conda_constraints)
    if spec.requires_python:
        derived += tuple(x for x in (rules.pep440_to_conda("python", spec.requires_python),)
                         if x)
    specs, pin_notes = rules.conda_specs(requests.conda, channels)
    requests = replace(requests, notes=requests.notes + pin_notes)
    request = conda.Request(
        specs=specs, channels=channels,
        platform=settings.platform, glibc=settings.glibc, cuda=settings.cuda,
        channel_priority=settings.channel_priority or spec.channel_priority,
        constraints=tuple(dict.fromkeys((*derived, *target_python))),
        where=conda_where(spec),
    )
    say(f"solving {len(request.specs)} conda specs")
    try:
        conda_pkgs = solve_conda(request)
    except LockError as exc:
        # Unsolvable with what the PyPI side asks: solve without it, to name the request
        # that conda's packages cannot meet (and where it comes from).
        try:
            loose = solve_conda(replace(request, constraints=target_python))
        except LockError:
            raise exc from None
        _check_owner(spec, requests, loose, exc)
        raise
    say(f"reading what {len(conda_pkgs)} conda packages install")
    conda_pkgs, mapping_notes = read_conda(conda_pkgs, on_line=say)
    # Rule 3 again, where a conda package installs a distribution of another name.
    names = {d: p.name for p in conda_pkgs for d in p.provides if d != p.name}
    better = rules.conda_constraints(requests.binding, requests.pypi_constraints, names)
    if set(better) - set(request.constraints):
        request = replace(request, constraints=tuple(dict.fromkeys(
            (*request.constraints, *better))))
        say("solving conda packages again with the PyPI constraints they must meet")
        conda_pkgs, mapping_notes = read_conda(solve_conda(request), on_line=say)
    rules.check_pypi_only(requests, conda_pkgs)  # before uv runs: fail fast
    _check_owner(spec, requests, conda_pkgs)
    return conda_pkgs, mapping_notes, requests


def _check_owner(spec: ProjectSpec, requests: rules.Requests,
                 conda_pkgs: tuple[LockedPackage, ...], cause: LockError | None = None) -> None:
    python = next((p.version for p in conda_pkgs if p.name == "python"), None)
    if cause is not None and python and (problem := rules.python_error(
            python, spec, f"the conda solve ({conda_where(spec)})")):
        raise problem from None
    if cause is not None:  # the mapping is needed to compare PyPI names
        conda_pkgs = tuple(replace(p, provides=p.provides or (rules.norm(p.name),))
                           for p in conda_pkgs)
    found = rules.conda_disagreements(requests, conda_pkgs)
    if found:
        raise rules.disagreement_error(found, spec) from None


def _check_cuda_pin(pins: Iterable[Pin], settings: Settings) -> None:
    """A conda lock made for another CUDA (its cuda-version record) cannot bind the solve
    for the target's: say so rather than let the solver call it unsatisfiable."""
    if not settings.cuda:
        return
    target = ".".join(settings.cuda.split(".")[:2])
    for pin in pins:
        if pin.manager == "conda" and pin.name == "cuda-version" and \
                ".".join(pin.version.split(".")[:2]) != target:
            raise LockError(
                f"{pin.where} pins cuda-version {pin.version}: the project's conda lock was "
                f"made for CUDA {pin.version}, the target is CUDA {target}",
                where=f"{settings.origin.file} ([target] cuda)",
                hint=f'to take CUDA {target} builds, set [install] unpin = ["cuda-version"] '
                     "in dockyard.toml (the lock's other versions still bind); if the "
                     f"platform runs CUDA {pin.version}, set [target] cuda = \"{pin.version}\"")


def _check_paths(spec: ProjectSpec, reqs: Iterable[PypiRequirement]) -> None:
    """A path dependency must be there before uv is asked to build it."""
    from pathlib import Path

    for r in reqs:
        if r.path is None:
            continue
        path = Path(spec.root, r.path)
        if path.is_dir() and any(path.iterdir()):
            continue
        if path.is_file():
            continue
        state = "is an empty folder" if path.is_dir() else "does not exist"
        raise LockError(
            f"{r.name}: the path dependency {r.path} {state}",
            where=str(r.origin),
            hint="a git submodule that is not checked out is the usual cause (`git submodule "
                 "update --init`); or point it at the package's folder, or take the package "
                 "from an index or git instead")


def _remote_head(url: str, kind: str, ref: str | None) -> str:
    from .gitref import remote_head

    return remote_head(url, kind, ref)


def _git_notes(git_pins: Iterable[rules.GitPin], head_of: Callable[[str, str, str | None], str],
               say: Progress) -> tuple[Note, ...]:
    """A git request pinned to its lock's commit: say so, and whether its branch moved."""
    from .gitref import HeadUnknown

    notes = []
    for g in git_pins:
        asked = {"branch": f"branch {g.ref}", "tag": f"tag {g.ref}", "rev": f"rev {g.ref}"}.get(
            g.kind, "the default branch")
        move = (f"to move on purpose, update the project's lock (`poetry update {g.name}` / "
                f"`uv lock --upgrade-package {g.name}`), or set [install] unpin = "
                f'["{g.name}"] in dockyard.toml to follow {asked}')
        text = f"{g.url} {asked} locked at {g.commit}, the commit {g.where} records"
        if g.kind == "rev":
            notes.append(Note(g.name, text))
            continue
        say(f"asking where {g.name}'s {asked} is now")
        try:
            head = head_of(g.url, g.kind, g.ref)
        except HeadUnknown as exc:
            notes.append(Note(g.name, f"{text}; whether {asked} moved since is unknown "
                                      f"({exc}); {move}"))
            continue
        if head == g.commit:
            notes.append(Note(g.name, f"{text} ({asked} is still there)"))
        else:
            notes.append(Note(g.name, f"{text}; {asked} has moved since, to {head}: "
                                      f"the lock keeps {g.commit[:12]}, what the developers "
                                      f"tested; {move}"))
    return tuple(notes)


def _explain_git_pins(exc: LockError, git_pins: Iterable[rules.GitPin]) -> LockError:
    """A git commit the project's lock records that cannot be fetched: maybe gone from the
    remote (a force-push); say how to follow the branch instead."""
    for g in git_pins:
        if g.commit in exc.message and g.kind != "rev":
            asked = f"branch {g.ref}" if g.kind == "branch" else (
                f"tag {g.ref}" if g.kind == "tag" else "the default branch")
            more = (f"{g.name} is pinned to {g.commit[:12]}, the commit {g.where} records; if "
                    f"it is gone from the remote (a force-push), `[install] unpin = "
                    f'["{g.name}"]` in dockyard.toml follows {asked} instead')
            return type(exc)(exc.message, where=exc.where,
                             hint=f"{exc.hint}; {more}" if exc.hint else more)
    return exc


def _explain_conda_pins(exc: LockError, conda_pkgs: Iterable[LockedPackage]) -> LockError:
    """uv saw `numpy==1.26.4` without knowing why: say it is conda's numpy."""
    involved = sorted(f"{dist} {pkg.version} (conda package {pkg.name})"
                      for dist, pkg in rules.provided(conda_pkgs).items()
                      if f"{dist}==" in exc.message or f"{dist}=={pkg.version}" in exc.message)
    if not involved:
        return exc
    why = ("the conda solve installs " + ", ".join(involved) + ", so the PyPI side must use "
           "that version; constrain it in pyproject.toml / dockyard.toml to make conda pick "
           "another, or change the conda specs")
    return type(exc)(exc.message, where=exc.where,
                     hint=f"{why}; {exc.hint}" if exc.hint else why)


def summary(lock: Lock) -> dict[str, Any]:
    """Counts per owner and the notes, for the CLI."""
    return {
        "conda": len(lock.by_owner("conda")),
        "pypi": len(lock.by_owner("pypi")),
        "git": sorted(f"{p.name}@{p.commit[:12]}" for p in lock.packages if p.commit),
        "notes": [n.message if n.subject == "*" else f"{n.subject}: {n.message}"
                  for n in lock.notes],
    }

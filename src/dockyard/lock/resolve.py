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
from ..spec import Index, Origin, ProjectSpec, PypiRequirement
from . import conda, pypi, rules
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
    )


def lock_project(
    spec: ProjectSpec,
    *,
    progress: Progress | None = None,
    solve_conda: Callable[[conda.Request], tuple[LockedPackage, ...]] = conda.solve,
    read_conda: Callable[..., tuple[tuple[LockedPackage, ...], tuple[Note, ...]]] = (
        conda.distributions),
    compile_pypi: Callable[..., tuple[LockedPackage, ...]] = pypi.compile,
    tools: Iterable[str] | None = None,
) -> Lock:
    """Resolve the project into one Lock (see README "How dockyard locks")."""
    say = progress or (lambda _line: None)
    spec = with_kernel(spec)
    settings = spec.settings
    requests = rules.select(spec, _default_tools() if tools is None else tools)

    conda_pkgs: tuple[LockedPackage, ...] = ()
    mapping_notes: tuple[Note, ...] = ()
    channels = conda.channels_of(settings.channels or spec.channels)
    if requests.conda:
        extra = []
        if spec.requires_python:
            extra.append(rules.pep440_to_conda("python", spec.requires_python))
        if settings.python:
            extra.append(f"python {settings.python}.*")
        specs, pin_notes = rules.conda_specs(requests.conda, channels)
        requests = replace(requests, notes=requests.notes + pin_notes)
        request = conda.Request(
            specs=specs,
            channels=channels,
            platform=settings.platform, glibc=settings.glibc, cuda=settings.cuda,
            channel_priority=settings.channel_priority or spec.channel_priority,
            constraints=(*requests.conda_constraints, *(e for e in extra if e)),
            where=conda_where(spec),
        )
        say(f"solving {len(request.specs)} conda specs")
        conda_pkgs = solve_conda(request)
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

    python = next((p.version for p in conda_pkgs if p.name == "python"), None)
    python = python or settings.python or rules.python_from_requires(spec.requires_python)
    if python is None:
        raise LockError(
            "cannot tell which Python to lock for",
            where="dockyard.toml (target.python)",
            hint='set [target] python = "3.12" in dockyard.toml, or requires-python in '
                 "pyproject.toml",
        )

    pypi_pkgs: tuple[LockedPackage, ...] = ()
    indexes = indexes_of(spec)
    if requests.pypi:
        request_pypi = pypi_request(spec, requests, conda_pkgs, python)
        say(f"resolving {len(request_pypi.requirements)} PyPI requirements with uv")
        try:
            pypi_pkgs = compile_pypi(request_pypi, on_line=say)
        except LockError as exc:
            raise _explain_conda_pins(exc, conda_pkgs) from None

    packages, notes = rules.merge(spec, requests, conda_pkgs, pypi_pkgs, mapping_notes)
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
        "notes": [f"{n.subject}: {n.message}" for n in lock.notes],
    }

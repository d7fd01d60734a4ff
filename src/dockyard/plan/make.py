"""make_plan: lock + base facts + settings -> BuildPlan (pure: no files, no processes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..cuda import duplicates_against_base, nvidia_env
from ..errors import PlanError
from ..lock.model import Lock, LockedPackage
from ..probe.facts import BaseFacts, PythonFacts
from ..spec import ProjectSpec
from .model import (
    APP_DIR,
    DEFAULT_PREFIX,
    LOCK_IN_IMAGE,
    PYPI_SIMPLE,
    UV,
    BuildPlan,
    CondaArtifact,
    Interpreter,
    Kernel,
    Layer,
    SourcePin,
    WheelPin,
)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """Choices a user can make on the command line (none is required)."""

    kernel_name: str | None = None
    display_name: str | None = None
    prefix: str = DEFAULT_PREFIX
    secrets: tuple[str, ...] = ()  # ids of build secrets given to the build (e.g. "ca")
    install_project: bool = True  # build and install the project's own package
    extra_env: tuple[tuple[str, str], ...] = ()  # added to (and overriding) the plan's ENV
    # reuse the base's interpreter when the lock's conda python is its very version
    reuse_base_python: bool = True
    # installed bytes of conda packages, by name, when the caller read them (the pipeline
    # reads the python package's paths.json): the plan says what an interpreter costs
    sizes: tuple[tuple[str, int], ...] = ()


def _vt(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _kernel_slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug or "app"


def kernel_slug(name: str) -> str:
    """The Jupyter kernel name of a project (lower case, `[a-z0-9._-]`, never empty)."""
    return _kernel_slug(name)


def needed_glibc(lock: Lock) -> str:
    """The newest glibc the lock asks for: its target, virtual packages and conda depends."""
    found = [lock.target.glibc] if lock.target.glibc else []
    for vp in lock.target.virtual_packages:
        if vp.startswith("__glibc"):
            found += re.findall(r"\d+\.\d+", vp)
    for p in lock.by_owner("conda"):
        for dep in p.depends:
            if dep.startswith("__glibc"):
                found += re.findall(r">=\s*(\d+\.\d+)", dep)
    return max(found, key=_vt) if found else ""


def _check_base(lock: Lock, facts: BaseFacts) -> None:
    if facts.jupyter is None:
        raise PlanError(
            f"the base image {facts.ref} has no Jupyter (no `jupyter` on its PATH): "
            "the environment cannot be registered as a kernel of the base's Jupyter",
            hint="use the platform's Jupyter base image, or one with JupyterLab installed",
        )
    if facts.libc == "musl":
        raise PlanError(
            f"the base image {facts.ref} uses musl, not glibc: conda packages and "
            "manylinux wheels need glibc", hint="use a glibc-based image (Debian, Ubuntu, RHEL)",
        )
    need = needed_glibc(lock)
    if need and facts.glibc and _vt(facts.glibc) < _vt(need):
        raise PlanError(
            f"the lock needs glibc {need} but the base image {facts.ref} has glibc "
            f"{facts.glibc}",
            where="dockyard.lock (target.glibc)",
            hint=f'lock for the base: set [target] glibc = "{facts.glibc}" in dockyard.toml '
            "and run `dockyard lock`",
        )
    if lock.target.platform not in ("linux-64",) or facts.architecture not in ("amd64", ""):
        raise PlanError(
            f"lock platform {lock.target.platform} and base architecture "
            f"{facts.architecture or '?'} are not supported together (linux-64/amd64 only)",
            hint="lock for linux-64 and use an amd64 base image",
        )
    if lock.get("ipykernel") is None:
        raise PlanError(
            "ipykernel is not in the lock: the environment cannot run as a Jupyter kernel",
            where="dockyard.lock",
            hint="add ipykernel to the project's dependencies (or to dockyard.toml "
            "[install] constraints) and run `dockyard lock`",
        )


def _lock_python(lock: Lock) -> tuple[str, LockedPackage | None]:
    conda_py = next((p for p in lock.by_owner("conda") if p.name == "python"), None)
    version = conda_py.version if conda_py else lock.target.python
    if not version:
        raise PlanError("the lock does not say which Python it is for",
                        where="dockyard.lock (target.python)",
                        hint="regenerate it with `dockyard lock`")
    return version, conda_py


def _free_threaded(conda_py: LockedPackage) -> bool:
    return bool(re.search(r"cp3\d+t", conda_py.build))


def _mb(n: int | None) -> str:
    return f"{n / 1e6:.0f} MB" if n else "its size unknown until its package is fetched"


def choose_interpreter(lock: Lock, facts: BaseFacts, prefix: str,
                       settings: PlanSettings | None = None) -> Interpreter:
    settings = settings or PlanSettings()
    version, conda_py = _lock_python(lock)
    jp = facts.jupyter_python
    base_desc = (f"the base's Jupyter runs on Python {jp.version} ({jp.path})" if jp
                 else "the base's Jupyter interpreter was not among the probed Pythons")
    candidates: list[PythonFacts] = ([jp] if jp else []) + list(facts.pythons)
    if conda_py is not None:
        size = dict(settings.sizes).get("python")
        same = next((p for p in candidates if p.version == version
                     and p.implementation == "cpython" and not p.abiflags), None)
        if same is not None and settings.reuse_base_python and not _free_threaded(conda_py):
            return Interpreter(
                kind="base", python=f"{prefix}/bin/python", version=version,
                base_python=same.path, replaces_conda_python=True,
                reason=f"the lock's conda python {version} is the very version of the base's "
                f"{same.path} (CPython {same.version}): the environment at {prefix} is a venv "
                "of it holding the lock's conda packages, without conda's own interpreter",
                cost=f"saves {_mb(size)} (conda's python package is not installed)",
            )
        why_not = ("reusing the base's was turned off" if same is not None
                   and not settings.reuse_base_python else
                   "conda's python is a free-threaded build" if same is not None else
                   "the base has no Python " + version + " (it has "
                   + (", ".join(sorted({p.version for p in facts.pythons})) or "none") + ")")
        return Interpreter(
            kind="conda", python=f"{prefix}/bin/python", version=version, base_python="",
            reason=f"the lock's python {version} is a conda package ({conda_py.reason or 'conda'})"
            f"; {base_desc}: a second interpreter in its own prefix {prefix}, "
            f"the base's Python is left untouched ({why_not})",
            cost=f"a second interpreter: conda's python {version} adds {_mb(size)}",
        )
    fit = next((p for p in candidates if p.minor == _minor(version)), None)
    if fit is None:
        have = ", ".join(sorted({p.version for p in facts.pythons})) or "none"
        raise PlanError(
            f"the lock is for Python {version}; the base has Python {have} and the lock has "
            "no conda python to bring a second interpreter",
            where="dockyard.lock (target.python)",
            hint=f"add python={_minor(version)} to environment.yml (a second interpreter from "
            "conda), or lock for the base's Python: [target] python in dockyard.toml",
        )
    conda_note = " plus the lock's conda packages" if lock.by_owner("conda") else ""
    return Interpreter(
        kind="base", python=f"{prefix}/bin/python", version=version, base_python=fit.path,
        reason=f"the lock's Python {_minor(version)} matches the base's {fit.path} "
        f"({fit.version}) and no conda python is locked: reuse it through a virtual "
        f"environment at {prefix}{conda_note}, the base's own site-packages untouched",
        cost="no second interpreter",
    )


def _chosen(p: LockedPackage, minor: str, glibc: str) -> tuple[str, str, str]:
    """(filename, url, sha256) of the artifact the target installs: its best wheel, else
    its sdist; ("", "", "") when the lock names none the target can use."""
    from ..materialize.wheels import filename_of, pick_sdist, pick_wheel

    art = pick_wheel(p.name, p.artifacts, minor, glibc) or pick_sdist(p.artifacts)
    return (filename_of(art), art.url, art.sha256) if art else ("", "", "")


def _packages(lock: Lock, project: str, minor: str = "", glibc: str = "",
              ) -> tuple[tuple[CondaArtifact, ...], tuple[WheelPin, ...], tuple[SourcePin, ...]]:
    conda, wheels, sources = [], [], []
    for p in lock.packages:
        if p.owner == "conda":
            if not p.artifacts:
                raise PlanError(f"conda package {p.name} {p.version} has no artifact in the lock",
                                where="dockyard.lock", hint="regenerate it with `dockyard lock`")
            a = p.artifacts[0]
            conda.append(CondaArtifact(p.name, p.version, p.build,
                                       a.filename or a.url.rsplit("/", 1)[-1], a.url, a.sha256))
        elif _kernel_slug(p.name) == _kernel_slug(project):
            continue  # the project itself: built from its source, installed last
        elif p.commit:
            url, _, sub = p.source.partition("#subdirectory=")
            sources.append(SourcePin(p.name, "git", url.removeprefix("git+"), p.commit, sub))
        elif p.source.startswith("path:") and not p.artifacts:
            sources.append(SourcePin(p.name, "path", p.source.removeprefix("path:")))
        else:
            if not p.artifacts:
                raise PlanError(f"PyPI package {p.name} {p.version} has no artifact hash in the "
                                "lock", where="dockyard.lock",
                                hint="regenerate it with `dockyard lock`")
            filename, url, sha = _chosen(p, minor, glibc) if minor else ("", "", "")
            if minor and not filename:
                raise PlanError(f"PyPI package {p.name} {p.version}: the lock has no wheel "
                                f"for Python {minor} on glibc {glibc} and no sdist",
                                where="dockyard.lock",
                                hint="lock for this base: [target] python and glibc in "
                                "dockyard.toml, then `dockyard lock`")
            wheels.append(WheelPin(p.name, p.version, p.source or PYPI_SIMPLE,
                                   tuple(sorted({a.sha256 for a in p.artifacts})),
                                   filename, url, sha))
    return tuple(conda), tuple(wheels), tuple(sources)


def split_lock(lock: Lock, project: str) -> tuple[tuple[CondaArtifact, ...],
                                                 tuple[WheelPin, ...], tuple[SourcePin, ...]]:
    """The lock as a plan installs it: conda artifacts, PyPI wheel pins, and git/path
    sources to build; `project` itself is left out (it is built from its own source)."""
    return _packages(lock, project)


def _kernel_dir(facts: BaseFacts) -> tuple[str, str]:
    """A kernels dir the base's Jupyter searches, outside $HOME (a volume on platforms)."""
    assert facts.jupyter is not None
    for d in facts.jupyter.kernel_dirs:
        if not facts.user.in_a_home(d):
            return d, f"{d} is searched by the base's Jupyter (`jupyter --paths`) and is " \
                      "outside every user's home, which platforms mount volumes over"
    return ("/usr/local/share/jupyter/kernels",
            "the base's Jupyter reported no search path outside a home; "
            "/usr/local/share/jupyter is in every Jupyter's system path")


def make_plan(lock: Lock, facts: BaseFacts, settings: PlanSettings | None = None,
              project: ProjectSpec | None = None) -> BuildPlan:
    settings = settings or PlanSettings()
    _check_base(lock, facts)
    prefix = settings.prefix.rstrip("/")
    interp = choose_interpreter(lock, facts, prefix, settings)
    project_name = (project.name if project and project.name else "app")
    conda, wheels, sources = _packages(lock, project_name, interp.minor,
                                       lock.target.glibc or facts.glibc or "2.17")
    kname = _kernel_slug(settings.kernel_name or project_name)
    display = settings.display_name or f"{project_name} (Python {interp.minor})"
    kdir, kwhy = _kernel_dir(facts)
    kernel = Kernel(
        name=kname, display_name=display, directory=f"{kdir}/{kname}",
        argv=(interp.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"),
    )
    user = facts.user
    notes = []
    if user.is_root:
        notes.append(f"the base {facts.ref} runs as root; the image keeps its user "
                     "(platforms usually require a non-root user)")
    if not facts.glibc:
        notes.append("the base's glibc version could not be read; glibc was not checked")
    dup = duplicates_against_base(facts, lock)
    if dup.duplicates:
        notes.append("CUDA: " + dup.summary())
    env = {**nvidia_env(lock, facts), **dict(settings.extra_env)}
    owner_names = f"{user.username or user.name or user.uid}:{user.groupname or user.gid}"
    layers = (
        Layer("builder", f"environment at {prefix}: " + (
            f"{len(conda)} conda packages (fetched by the host, sha256-checked), "
            if conda else "") + f"{len(wheels)} PyPI packages (fetched by the host, "
            "installed with uv --require-hashes --no-deps --no-index)"
            + (f", {len(sources)} git/path dependencies built from source" if sources else ""),
            "installs from the lock only: no resolution at build time; then its digest"),
        Layer("final", f"{prefix}, copied by one RUN keyed on that digest and chowned to "
              f"{user.uid}:{user.owner_gid} in the same step",
              f"owned by {owner_names} in one layer (no second copy); an unchanged "
              "environment reuses its layer without being read again"),
        Layer("final", f"kernel spec {kname!r} in {kdir}; the lock at {LOCK_IN_IMAGE}", kwhy),
        Layer("final", f"the project's package, built as a wheel on the host, COPYed into "
              f"{APP_DIR}", "last, so a code-only change rebuilds this layer only")
        if settings.install_project else None,
    )
    labels = (
        ("io.dockyard.base", facts.pinned),
        ("io.dockyard.kernel", kname),
        ("io.dockyard.lock", LOCK_IN_IMAGE),
        ("io.dockyard.lock-hash", lock.inputs_hash),
        ("io.dockyard.python", interp.python),
    )
    return BuildPlan(
        base_ref=facts.ref, base_from=facts.pinned, base_user=user.config_user,
        uid=user.uid, gid=user.owner_gid, owner_names=owner_names,
        prefix=prefix, app_dir=APP_DIR,
        site_packages=f"{prefix}/lib/python{interp.minor}/site-packages",
        interpreter=interp, conda=conda, wheels=wheels, sources=sources,
        project_name=project_name, install_project=settings.install_project,
        kernel=kernel, lock_in_image=LOCK_IN_IMAGE, lock_hash=lock.inputs_hash,
        env=tuple(sorted(env.items())), labels=labels,
        secrets=tuple(sorted(set(settings.secrets))), uv=UV,
        layers=tuple(x for x in layers if x is not None), notes=tuple(notes),
        base_cmd=facts.cmd, base_entrypoint=facts.entrypoint,
        allow_secrets=project.settings.allow_secrets if project is not None else (),
    )

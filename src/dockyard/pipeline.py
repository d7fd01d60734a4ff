"""The pipeline's orchestration, shared by every command that makes something from a lock.

    open_project(DIR) -> Project          the project's spec and its fresh dockyard.lock
    prepare(project, base, engine) -> Prepared
                                          + the base's facts (probed) and the BuildPlan
    stage(prepared, dest) -> (plan, context)
                                          the build context on disk, the plan as rendered

`dockyard plan`, `dockyard build`, the cluster images, packs and the
engine-less assembly all start here, so that each command is a thin shell
over one call. Probing runs a container of the base (an effect); everything
after it (`make_plan`) is pure.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BuildError, LockError, PlanError, SpecError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .engines import CliEngine
    from .lock.model import Lock
    from .plan import BuildPlan
    from .probe import BaseFacts
    from .render import BuildContext
    from .spec import ProjectSpec


@dataclass(frozen=True)
class Project:
    """A project directory with its spec and a lock that is fresh against it."""

    root: Path
    spec: ProjectSpec
    lock: Lock
    lock_text: str


@dataclass(frozen=True)
class Prepared:
    """A project, the base it goes on, and the plan that puts it there."""

    project: Project
    base: str
    engine: CliEngine
    facts: BaseFacts
    plan: BuildPlan
    secrets: dict[str, str]

    # The fields the commands read most, without the `.project.` hop.
    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def spec(self) -> ProjectSpec:
        return self.project.spec

    @property
    def lock(self) -> Lock:
        return self.project.lock

    @property
    def lock_text(self) -> str:
        return self.project.lock_text


def open_project(root: str | Path, settings: Path | None = None) -> Project:
    """Read the project and its dockyard.lock; stop when the lock is absent or stale."""
    from .lock.model import LOCK_FILENAME, loads
    from .lock.resolve import inputs_hash
    from .sources import read_project

    root = Path(root).resolve()
    spec = read_project(root, settings)
    path = root / LOCK_FILENAME
    if not path.is_file():
        raise LockError("no dockyard.lock", where=str(root), hint="run `dockyard lock` first")
    lock_text = path.read_text()
    lock = loads(lock_text, str(path))
    if lock.inputs_hash != inputs_hash(spec):
        raise LockError("dockyard.lock is stale: the project's files or dockyard.toml changed "
                        "since it was written", where=str(path), hint="run `dockyard lock`")
    return Project(root, spec, lock, lock_text)


def base_ref(project: Project, base: str | None) -> str:
    """The base image: the one given, else dockyard.toml's [target] base."""
    ref = base or project.spec.settings.base
    if not ref:
        raise PlanError("no base image given", hint="pass --base REF or set [target] base "
                        "in dockyard.toml")
    return ref


def parse_secrets(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`id=ID,src=PATH` items as {id: absolute path}; the host's CA bundle as `ca` by default."""
    secrets: dict[str, str] = {}
    for item in items:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        sid, src = fields.get("id", ""), fields.get("src", "") or fields.get("source", "")
        if not sid or not src:
            raise BuildError(f"--secret {item!r}: expected id=ID,src=PATH",
                             hint="e.g. --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt")
        if not os.path.isfile(src):
            raise BuildError(f"--secret id={sid}: {src} is not a file", hint="check the path")
        secrets[sid] = os.path.abspath(src)
    ca = os.environ.get("SSL_CERT_FILE")
    if "ca" not in secrets and ca and os.path.isfile(ca):
        secrets["ca"] = ca  # the host's trust store: builds behind a TLS proxy just work
    return secrets


def installs_project(root: Path) -> bool:
    """Whether the project's own package is built: it declares a build backend."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return False
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:  # read_project reports it first; kept for safety
        raise SpecError(f"not valid TOML: {exc}", where=str(path)) from None
    if doc.get("tool", {}).get("poetry", {}).get("package-mode") is False:
        return False
    return "build-system" in doc


def prepare(project: Project, base: str, engine: CliEngine, *,
            secrets: dict[str, str] | None = None, kernel_name: str | None = None,
            display_name: str | None = None,
            probe: Callable[[CliEngine, str], BaseFacts] | None = None,
            reuse_base_python: bool = True) -> Prepared:
    """Probe `base` with `engine` and plan the project's image on it."""
    from .plan import PlanSettings, make_plan
    from .probe import probe_base

    secrets = dict(secrets or {})
    facts = (probe or probe_base)(engine, base)
    settings = PlanSettings(
        kernel_name=kernel_name, display_name=display_name,
        secrets=tuple(sorted(secrets)), install_project=installs_project(project.root),
        sizes=_interpreter_sizes(project.lock), reuse_base_python=reuse_base_python,
    )
    plan = make_plan(project.lock, facts, settings, project.spec)
    return Prepared(project, base, engine, facts, plan, secrets)


def _interpreter_sizes(lock: Lock) -> tuple[tuple[str, int], ...]:
    """What the lock's conda python installs, so the plan can say what it costs."""
    from .plan.model import CondaArtifact
    from .render.stage import conda_installed_size

    py = next((p for p in lock.by_owner("conda") if p.name == "python" and p.artifacts), None)
    if py is None:
        return ()
    a = py.artifacts[0]
    art = CondaArtifact(py.name, py.version, py.build, a.filename or a.url.rsplit("/", 1)[-1],
                        a.url, a.sha256)
    try:
        return (("python", conda_installed_size(art)),)
    except BuildError as exc:  # unreachable channel: the plan says the size is unknown
        log.info("%s", exc.message)
        return ()


def stage(prepared: Prepared, dest: str | Path,
          progress: Callable[[str], None] | None = None) -> tuple[BuildPlan, BuildContext]:
    """Put the build context of `prepared` into `dest`: the project's wheel built on the host
    first (its installed tree, `app/`); when that wheel turns out platform-specific, the
    plan builds it in the image instead. Returns the plan as rendered, and the context."""
    from .render import render
    from .render.stage import stage_app, stage_context

    plan, dest = prepared.plan, Path(dest)
    if plan.install_project and plan.app_build == "host":
        if not stage_app(plan, prepared.root, dest, progress):
            plan = replace(plan, app_build="image")
    context = render(plan)
    stage_context(context, plan, prepared.lock_text, prepared.root, dest, progress)
    return plan, context


__all__ = ["Prepared", "Project", "base_ref", "installs_project", "open_project",
           "parse_secrets", "prepare", "stage"]

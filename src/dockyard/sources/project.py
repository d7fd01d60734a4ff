"""read_project: every file dockyard knows in a project folder -> one ProjectSpec.

Reads only; never writes. Each file read is hashed into `ProjectSpec.inputs`
so the lock can tell when it is stale.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import InputFile, ProjectLock, ProjectSpec, Settings
from . import envfiles
from .conda import parse_environment
from .condalocks import is_explicit, parse_conda_lock, parse_explicit, parse_pixi_lock
from .locate import OriginOf, Path_, no_positions
from .locks import parse_poetry_lock, parse_uv_lock
from .model import Partial
from .pep508 import quote
from .pyproject import declares_dependencies, parse_pyproject
from .readers import Loaded, load_text, load_toml, load_yaml, yaml_document
from .requirements import group_of, parse_requirements
from .settings import FILENAME, lock_digest, parse_settings

log = logging.getLogger(__name__)

KNOWN_FILES = ("pyproject.toml", "poetry.lock", "uv.lock", "environment.yml",
               "environment.yaml", "requirements*.txt", FILENAME)  # and see envfiles


class _Reads:
    """The files read so far (for `inputs`), relative to the root."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, str] = {}

    def keep(self, loaded: Loaded) -> Loaded:
        self.files[loaded.name] = loaded.sha256
        return loaded

    def text(self, rel: str) -> str:
        path = self.root / rel
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())
            exists = path.is_file()
        except (OSError, ValueError) as exc:   # a name too long, a NUL, a loop of links
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise SpecError(f"{quote(rel)} cannot be read: {why}", where=quote(rel),
                            hint="fix the -r/-c line that names it") from None
        if not inside:   # a link inside the project to a file outside it
            raise SpecError(f"{quote(rel)} leads outside the project", where=quote(rel),
                            hint="dockyard reads only the project's own files") from None
        if not exists:
            raise SpecError(f"{rel} is included but does not exist", where=rel,
                            hint="fix the -r/-c line that names it")
        return self.keep(load_text(path, rel)).text

    def name_of_path(self, rel: str) -> str | None:
        """The [project] (or poetry) name of a local package folder, if it says.

        Its pyproject.toml counts as an input: what it declares goes into the lock."""
        pyproject = self.root / rel / "pyproject.toml"
        try:
            if not pyproject.is_file():
                return None
        except (OSError, ValueError):   # a name too long, a NUL: no folder of that name
            return None
        doc = self.keep(load_toml(pyproject, posixpath.join(rel, "pyproject.toml")
                                  .removeprefix("./"))).doc
        name = doc.get("project", {}).get("name") or \
            doc.get("tool", {}).get("poetry", {}).get("name")
        return str(name) if name else None


def _workspace_members(root: Path, doc: Mapping[str, Any], reads: _Reads) -> dict[str, str]:
    workspace = doc.get("tool", {}).get("uv", {}).get("workspace", {})
    members: dict[str, str] = {}
    for pattern in workspace.get("members", []):
        for folder in sorted(root.glob(str(pattern))):
            rel = folder.relative_to(root).as_posix()
            name = reads.name_of_path(rel)
            if name:
                members[canonicalize_name(name)] = rel
    return members


def _merge(root: Path, parts: list[Partial], settings: Settings,
           inputs: Mapping[str, str], environment: str | None,
           notes: list[str]) -> ProjectSpec:
    def cat(attr: str) -> tuple:  # in order, each once (a file may be included twice)
        return tuple(dict.fromkeys(x for p in parts for x in getattr(p, attr)))

    priority = next((p.channel_priority for p in parts if p.channel_priority), None)
    locks = cat("locks")
    return ProjectSpec(
        root=str(root),
        name=next((p.name for p in parts if p.name), None),
        requires_python=next((p.requires_python for p in parts if p.requires_python), None),
        requires_python_origin=next((p.requires_python_origin for p in parts
                                     if p.requires_python), None),
        pypi=cat("pypi"),
        conda=cat("conda"),
        conda_pip=cat("conda_pip"),
        constraints=cat("constraints"),
        channels=cat("channels"),
        channel_priority=priority or "strict",
        indexes=cat("indexes"),
        pins=tuple(p for lock in locks for p in lock.pins if not p.local),
        locks=locks,
        optional_groups=cat("optional_groups"),
        selected_groups=cat("selected_groups"),
        environment=environment,
        find_links=cat("find_links"),
        dependency_metadata=cat("dependency_metadata"),
        notes=tuple(notes) + cat("notes"),
        settings=settings,
        inputs=tuple(InputFile(k, v) for k, v in sorted(inputs.items())),
    )


def _read_lock(reads: _Reads, rel: str) -> ProjectLock:
    """A project lock file: poetry.lock, uv.lock, conda-lock.yml, conda-*.lock, pixi.lock."""
    name = rel.rsplit("/", 1)[-1]
    if name in ("poetry.lock", "uv.lock"):
        loaded = reads.keep(load_toml(reads.root / rel, rel))
        parse = parse_poetry_lock if name == "poetry.lock" else parse_uv_lock
        return parse(loaded.doc, loaded.positions, rel)
    loaded = reads.keep(load_text(reads.root / rel, rel))
    if name.endswith(".lock") and name != "pixi.lock" and is_explicit(loaded.text):
        return parse_explicit(loaded.text, rel)
    doc = yaml_document(loaded.text, rel)
    return parse_pixi_lock(doc, rel) if name == "pixi.lock" else parse_conda_lock(doc, rel)


def _requirement_files(root: Path, reads: _Reads) -> list[str]:
    """requirements*.txt at the root, else in a `requirements/` folder; main file first."""
    for folder in ("", "requirements"):
        base = root / folder if folder else root
        found = [p.relative_to(root).as_posix() for p in base.glob("requirements*.txt")
                 if p.is_file()] if base.is_dir() else []
        found = [f for f in found if f not in reads.files]
        if found:
            return sorted(found, key=lambda n: (group_of(n) != "main", n))
    return []


def read_project(root: Path, settings_path: Path | None = None, *,
                 with_settings: bool = True,
                 environment: str | bool | None = None) -> ProjectSpec:
    """Read the project in `root` (and its dockyard.toml) into a ProjectSpec.

    `settings_path` overrides `root/dockyard.toml`; `with_settings=False`
    ignores any dockyard.toml (what `dockyard init --force` wants);
    `environment` chooses the environment file the way `[conda] environment` does.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise SpecError("not a directory" if root.exists() else "no such directory",
                        where=str(root), hint="pass the project folder (--project DIR)")
    reads = _Reads(root)
    parts: list[Partial] = []
    notes: list[str] = []
    pyproject_doc: Mapping[str, Any] = {}

    # dockyard.toml first: it may choose the environment file
    settings, positions = Settings(), no_positions(FILENAME)
    settings_file = Path(settings_path) if settings_path else root / FILENAME
    settings_rel = FILENAME
    if with_settings and (settings_path or settings_file.is_file()):
        settings_rel = _relative(settings_file, root)
        loaded = load_toml(settings_file, settings_rel)
        # the lock's inputs record dockyard.toml without its deployment tables ([cluster])
        loaded = reads.keep(replace(loaded, sha256=lock_digest(loaded.text, loaded.doc)))
        settings, positions = parse_settings(loaded.doc, loaded.positions), loaded.positions

    if (root / "pyproject.toml").is_file():
        loaded = reads.keep(load_toml(root / "pyproject.toml", "pyproject.toml"))
        pyproject_doc = loaded.doc
        members = _workspace_members(root, pyproject_doc, reads)
        parts.append(parse_pyproject(pyproject_doc, loaded.positions, members))
    for lock in ("poetry.lock", "uv.lock"):
        if (root / lock).is_file():
            parts.append(Partial(locks=(_read_lock(reads, lock),)))
    chosen = environment if environment is not None else settings.environment
    where = (_at(positions, ("conda", "environment")) if environment is None
             else "--environment")
    env, why = envfiles.choose(root, chosen, where)
    if why:
        notes.append(f"environment file: {why}")
    if env:
        loaded = reads.keep(load_yaml(root / env, env))
        parts.append(parse_environment(loaded.doc, loaded.positions, reads.text,
                                       reads.name_of_path, base=posixpath.dirname(env)))
        for rel in envfiles.locks_beside(root, env, settings.platform):
            parts.append(Partial(locks=(_read_lock(reads, rel),)))
            notes.append(f"{rel}: its {settings.platform} versions bind the solve "
                         "(conda builds are left to the solve)")
    # requirements files that the environment's pip: section includes are read there only
    requirement_files = _requirement_files(root, reads)
    if requirement_files and pyproject_doc and declares_dependencies(pyproject_doc):
        log.info("requirements files %s are not read: pyproject.toml declares the "
                 "dependencies", ", ".join(requirement_files))
    elif requirement_files:
        for name in requirement_files:
            loaded = reads.keep(load_text(root / name, name))
            part = parse_requirements(loaded.text, name, group_of(name), reads.text,
                                      reads.name_of_path)
            if group_of(name) != "main":
                part = replace(part, optional_groups=(group_of(name),))
            parts.append(part)
    unread = sorted(p.relative_to(root).as_posix() for p in (root / "requirements").glob(
        "*.txt") if p.is_file() and p.relative_to(root).as_posix() not in reads.files) \
        if (root / "requirements").is_dir() else []
    if unread:  # fsdl's requirements/prod.txt, dev.txt: pip-tools layers under other names
        notes.append(f"not read: {', '.join(unread)} (dockyard reads requirements*.txt; the "
                     "environment file or pyproject.toml says what is installed)")
    tool_config_only = bool(pyproject_doc) and not (
        pyproject_doc.get("project") or pyproject_doc.get("tool", {}).get("poetry"))
    if set(reads.files) <= {settings_rel} or (
            tool_config_only and set(reads.files) <= {settings_rel, "pyproject.toml"}):
        below = envfiles.projects_below(root)
        what = ("pyproject.toml only configures tools (no [project] or [tool.poetry]) and "
                "no other project file is here" if tool_config_only
                else "no project files found")
        raise SpecError(what + (
            f"; projects in subfolders: {', '.join(below)}" if below else ""), where=str(root),
            hint=(f"pass one of them: --project {below[0]}" if below else
                  f"dockyard reads {', '.join(KNOWN_FILES[:-1])}; run it in the project "
                  "folder or pass --project DIR"))

    spec = _merge(root, parts, settings, reads.files, env, notes)
    check_settings(spec, positions)
    return spec


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def check_settings(spec: ProjectSpec, origin_of: OriginOf | None = None) -> None:
    """What dockyard.toml names must exist in the project: indexes, groups, extras."""
    settings = spec.settings
    origin_of = origin_of or no_positions(FILENAME)
    indexes = {i.name for i in settings.indexes} | {i.name for i in spec.indexes}
    for package, index in settings.routes:
        if index not in indexes:
            raise SpecError(f"routes.{package}: no index named {index!r} is declared",
                            where=_at(origin_of, ("routes", package)),
                            hint=f'declare it in an [[index]] section (name = "{index}", url = '
                                 f'"..."){_listing("indexes", indexes)}')
    for req in spec.pypi + spec.conda_pip:
        if req.index and req.index not in indexes:
            raise SpecError(f"{req.name} asks for source {req.index!r}, which is not declared",
                            where=str(req.origin),
                            hint=f"declare the source{_listing('sources', indexes)}")
    groups = {r.group for r in spec.pypi if not r.group.startswith("extra:")}
    for group in settings.groups:
        if group not in groups:
            raise SpecError(f"install.groups: the project has no group {group!r}",
                            where=_at(origin_of, ("install", "groups")),
                            hint=f"remove it{_listing('groups', groups)}")
    extras = {r.group[6:] for r in spec.pypi if r.group.startswith("extra:")}
    for extra in settings.extras:
        if extra not in extras:
            raise SpecError(f"install.extras: the project has no extra {extra!r}",
                            where=_at(origin_of, ("install", "extras")),
                            hint=f"remove it{_listing('extras', extras)}")


def _listing(what: str, names: set[str]) -> str:
    return f" ({what}: {', '.join(sorted(names))})" if names else \
        f" (no {what} declared)"


def _at(origin_of: OriginOf, path: Path_) -> str:
    origin = origin_of(path)
    return origin.file if origin.line is None else f"{origin.file}:{origin.line}"

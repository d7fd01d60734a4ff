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
from ..spec import InputFile, ProjectSpec, Settings
from .conda import parse_environment
from .locate import OriginOf, Path_, no_positions
from .locks import parse_poetry_lock, parse_uv_lock
from .model import Partial
from .pyproject import declares_dependencies, parse_pyproject
from .readers import Loaded, load_text, load_toml, load_yaml
from .requirements import group_of, parse_requirements
from .settings import FILENAME, lock_digest, parse_settings

log = logging.getLogger(__name__)

KNOWN_FILES = ("pyproject.toml", "poetry.lock", "uv.lock", "environment.yml",
               "environment.yaml", "requirements*.txt", FILENAME)


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
        if not path.is_file():
            raise SpecError(f"{rel} is included but does not exist", where=rel,
                            hint="fix the -r/-c line that names it")
        return self.keep(load_text(path, rel)).text

    def name_of_path(self, rel: str) -> str | None:
        """The [project] (or poetry) name of a local package folder, if it says.

        Its pyproject.toml counts as an input: what it declares goes into the lock."""
        pyproject = self.root / rel / "pyproject.toml"
        if not pyproject.is_file():
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
           inputs: Mapping[str, str]) -> ProjectSpec:
    def cat(attr: str) -> tuple:  # in order, each once (a file may be included twice)
        return tuple(dict.fromkeys(x for p in parts for x in getattr(p, attr)))

    priority = next((p.channel_priority for p in parts if p.channel_priority), None)
    return ProjectSpec(
        root=str(root),
        name=next((p.name for p in parts if p.name), None),
        requires_python=next((p.requires_python for p in parts if p.requires_python), None),
        pypi=cat("pypi"),
        conda=cat("conda"),
        conda_pip=cat("conda_pip"),
        constraints=cat("constraints"),
        channels=cat("channels"),
        channel_priority=priority or "strict",
        indexes=cat("indexes"),
        pins=cat("pins"),
        optional_groups=cat("optional_groups"),
        settings=settings,
        inputs=tuple(InputFile(k, v) for k, v in sorted(inputs.items())),
    )


def _environment_file(root: Path) -> str | None:
    found = [n for n in ("environment.yml", "environment.yaml") if (root / n).is_file()]
    if len(found) > 1:
        raise SpecError("both environment.yml and environment.yaml exist", where=str(root),
                        hint="keep one of them: dockyard does not guess which one is current")
    return found[0] if found else None


def read_project(root: Path, settings_path: Path | None = None, *,
                 with_settings: bool = True) -> ProjectSpec:
    """Read the project in `root` (and its dockyard.toml) into a ProjectSpec.

    `settings_path` overrides `root/dockyard.toml`; `with_settings=False`
    ignores any dockyard.toml (what `dockyard init --force` wants).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise SpecError("not a directory" if root.exists() else "no such directory",
                        where=str(root), hint="pass the project folder (--project DIR)")
    reads = _Reads(root)
    parts: list[Partial] = []
    pyproject_doc: Mapping[str, Any] = {}

    if (root / "pyproject.toml").is_file():
        loaded = reads.keep(load_toml(root / "pyproject.toml", "pyproject.toml"))
        pyproject_doc = loaded.doc
        members = _workspace_members(root, pyproject_doc, reads)
        parts.append(parse_pyproject(pyproject_doc, loaded.positions, members))
    for lock, parse in (("poetry.lock", parse_poetry_lock), ("uv.lock", parse_uv_lock)):
        if (root / lock).is_file():
            loaded = reads.keep(load_toml(root / lock, lock))
            parts.append(Partial(pins=parse(loaded.doc, loaded.positions)))
    env = _environment_file(root)
    if env:
        loaded = reads.keep(load_yaml(root / env, env))
        parts.append(parse_environment(loaded.doc, loaded.positions, reads.text,
                                       reads.name_of_path))
    # requirements files that the environment's pip: section includes are read there only
    requirement_files = sorted((p.name for p in root.glob("requirements*.txt")
                                if p.is_file() and p.name not in reads.files),
                               key=lambda n: (group_of(n) != "main", n))
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
    if not reads.files:
        raise SpecError("no project files found", where=str(root),
                        hint=f"dockyard reads {', '.join(KNOWN_FILES[:-1])}; run it in the "
                             "project folder or pass --project DIR")

    settings, positions = Settings(), no_positions(FILENAME)
    settings_file = Path(settings_path) if settings_path else root / FILENAME
    if with_settings and (settings_path or settings_file.is_file()):
        rel = _relative(settings_file, root)
        loaded = load_toml(settings_file, rel)
        loaded = reads.keep(replace(loaded, sha256=lock_digest(loaded.text, loaded.doc)))
        settings, positions = parse_settings(loaded.doc, loaded.positions), loaded.positions
    spec = _merge(root, parts, settings, reads.files)
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
                                 f'"..."){_listing("declared indexes", indexes)}')
    for req in spec.pypi + spec.conda_pip:
        if req.index and req.index not in indexes:
            raise SpecError(f"{req.name} asks for source {req.index!r}, which is not declared",
                            where=str(req.origin),
                            hint=f"declare the source{_listing('declared', indexes)}")
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
    return f" ({what}: {', '.join(sorted(names))})" if names else f" (no {what})"


def _at(origin_of: OriginOf, path: Path_) -> str:
    origin = origin_of(path)
    return origin.file if origin.line is None else f"{origin.file}:{origin.line}"

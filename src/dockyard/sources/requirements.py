"""requirements*.txt (and environment.yml's `pip:` lines), as pip reads them.

Requirement lines, `-r` includes, `-c` constraints, `--index-url` and
`--extra-index-url` (an index named after its host and path, which uv
accepts), `--find-links`, editable and direct URLs (`#egg=`), markers,
comments and backslash continuations, pip's `--group NAME` (a dependency
group of the project). A line with `--hash` is a pin: a hashed file is a
lock (pip-compile, `uv export`), so its versions bind like poetry.lock's.
Options that only steer pip (`--pre`, `--trusted-host`, ...) are ignored
with a log line; anything else stops with the file, the line and why.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import Index, Origin, Pin, ProjectLock, PypiRequirement
from .model import Partial
from .pep508 import (
    clean_url,
    direct_reference,
    local_path,
    parse_vcs_url,
    pasteable,
    quote,
    requirement,
    safe_text,
    split_url,
)

log = logging.getLogger(__name__)

# read_include(path relative to the root) -> the file's text; raises SpecError if missing
ReadInclude = Callable[[str], str]
# name_of_path(path relative to the root) -> the distribution name of a local project
NameOfPath = Callable[[str], str | None]

_COMMENT = re.compile(r"(^|\s+)#.*$")
_CONDA_EXPORT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*=[^=\s<>!~]+=[^=\s]+$")
_IGNORED = {"--pre", "--prefer-binary", "--require-hashes", "--no-index", "--only-binary",
            "--no-binary", "--trusted-host", "--use-feature", "--use-pep517",
            "--no-build-isolation", "--no-deps", "--upgrade", "-U", "--user"}
_FLAGS = {"--pre", "--prefer-binary", "--require-hashes", "--no-index", "--use-pep517",
          "--no-build-isolation", "--no-deps", "--upgrade", "-U", "--user"}  # no value


def index_name(url: str) -> str:
    """A name uv accepts for an index given only by URL: its host and path.

    `https://download.pytorch.org/whl/cu117` -> `download-pytorch-org-whl-cu117`.
    """
    split = split_url(url)
    text = f"{split.hostname or ''}{split.path}".lower().rstrip("/").removesuffix("/simple")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "index"


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, content) with continuations joined and comments removed."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw):
            buffer += raw[:-1]
            continue
        line = _COMMENT.sub("", buffer + raw).strip()
        buffer = ""
        if line:
            yield start, line
    if buffer.strip():
        yield start, _COMMENT.sub("", buffer).strip()


def _options(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Split pip's `REQUIREMENT --opt ...` into the requirement and its options."""
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return tokens[:i], tokens[i:]
    return tokens, []


def _archive_name(url: str) -> str | None:
    filename = unquote(split_url(url).path.rsplit("/", 1)[-1])
    if filename.endswith(".whl"):
        return filename.split("-")[0]
    for ext in (".tar.gz", ".tar.bz2", ".zip", ".tgz"):
        if filename.endswith(ext):
            return filename[: -len(ext)].rpartition("-")[0] or None
    return None


@dataclass
class LineReader:
    """The state of one read: requirements, constraints and indexes found so far."""

    read_include: ReadInclude | None = None
    name_of_path: NameOfPath | None = None
    reqs: list[PypiRequirement] = field(default_factory=list)
    constraints: list[PypiRequirement] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # pip's --group NAME
    find_links: list[str] = field(default_factory=list)
    pins: dict[str, list[Pin]] = field(default_factory=dict)  # file -> its hashed lines

    def locks(self) -> tuple[ProjectLock, ...]:
        return tuple(ProjectLock(f, "requirements", walk=False, pins=tuple(p))
                     for f, p in self.pins.items())

    def partial(self, **more: Any) -> Partial:
        return Partial(pypi=tuple(self.reqs), constraints=tuple(self.constraints),
                       indexes=tuple(self.indexes), includes=tuple(self.includes),
                       locks=self.locks(), selected_groups=tuple(self.groups),
                       find_links=tuple(self.find_links), **more)

    def file(self, text: str, name: str, group: str, constraint: bool = False) -> None:
        base = posixpath.dirname(name)
        for number, line in logical_lines(text):
            self.line(line, Origin(name, number), group, base, constraint)

    def line(self, line: str, origin: Origin, group: str, base: str = "",
             constraint: bool = False) -> None:
        tokens = line.split()
        head = tokens[0]
        flag, eq, inline = head.partition("=")
        if head.startswith("-") and flag not in ("-e", "--editable"):
            takes = flag not in _FLAGS
            value = inline if eq or not takes else (tokens[1] if len(tokens) > 1 else "")
            self._option(flag, value, origin, group, base, constraint)
            after = tokens[1:] if eq or not takes else tokens[2:]
            if after and flag not in ("-r", "--requirement", "-c", "--constraint"):
                # several options on a line: `--group dev --group test --editable .`
                self.line(" ".join(after), origin, group, base, constraint)
            return
        options: list[str] = []
        if flag in ("-e", "--editable"):
            target = inline if eq else " ".join(tokens[1:])
            req = self._target(target, origin, group, base, editable=True)
        else:
            words, options = _options(tokens)
            req = self._target(" ".join(words), origin, group, base)
        (self.constraints if constraint else self.reqs).append(req)
        if any(o.startswith("--hash") for o in options):
            self._pin(req, origin)

    def _pin(self, req: PypiRequirement, origin: Origin) -> None:
        """A hashed `name==version` line: what pip-compile / `uv export` recorded."""
        m = re.fullmatch(r"===?([^,;\s]+)", req.specifier.strip())
        if not m or req.git or req.url or req.path:
            return
        self.pins.setdefault(origin.file, []).append(
            Pin(req.name, m[1], origin.file, marker=req.marker, line=origin.line))

    def _option(self, flag: str, value: str, origin: Origin, group: str, base: str,
                constraint: bool) -> None:
        if flag in ("-r", "--requirement", "-c", "--constraint"):
            if not value:
                raise SpecError(f"{flag} needs a file name", where=str(origin),
                                hint=f"write {flag} other-requirements.txt")
            # -r inside a constraints file names more constraints
            self._include(value, origin, group, base,
                          constraint=constraint or flag in ("-c", "--constraint"))
        elif flag in ("-i", "--index-url", "--extra-index-url"):
            if not value:
                raise SpecError(f"{flag} needs a URL", where=str(origin),
                                hint=f"write {flag} https://host/simple")
            url = clean_url(value)
            self.indexes.append(Index(name=index_name(url), url=url,
                                      default=flag != "--extra-index-url", origin=origin))
        elif flag in ("-f", "--find-links"):
            if not value:
                raise SpecError(f"{flag} needs a URL or a folder", where=str(origin),
                                hint=f"write {flag} https://host/page.html")
            self.find_links.append(clean_url(value) if "://" in value
                                   else local_path(value, base))
        elif flag == "--group":
            path, _, name = value.rpartition(":")
            if not name:
                raise SpecError("--group needs a group name", where=str(origin),
                                hint="write --group NAME (a [dependency-groups] table)")
            if path and posixpath.normpath(posixpath.join(base, path)) != "pyproject.toml":
                raise SpecError(f"--group {safe_text(value)!r}: only the project's own "
                                "pyproject.toml groups can be read", where=str(origin),
                                hint="write --group NAME")
            self.groups.append(name)
        elif flag in _IGNORED:
            log.info("%s: %s is ignored (the lock decides what is installed)", origin, flag)
        else:
            raise SpecError(f"unknown option {quote(flag)}", where=str(origin),
                            hint="requirement files may use -r, -c, -e, -i/--index-url, "
                                 "--extra-index-url, -f/--find-links, --group, --hash and "
                                 "requirement lines")

    def _include(self, target: str, origin: Origin, group: str, base: str,
                 constraint: bool) -> None:
        path = local_path(target, base)
        if posixpath.isabs(path) or path == ".." or path.startswith("../"):
            raise SpecError(f"{quote(target)} is outside the project: dockyard reads only the "
                            "project's own files", where=str(origin),
                            hint="copy what it holds into a requirements file of the project")
        if self.read_include is None:
            raise SpecError(f"cannot follow {target!r} here", where=str(origin),
                            hint="list the requirements directly")
        if path in self.includes:
            return  # already read (pip reads it again; the result is the same)
        self.includes.append(path)
        # constraints bind whatever gets installed, whichever file named them
        self.file(self.read_include(path), path, "main" if constraint else group, constraint)

    def _target(self, target: str, origin: Origin, group: str, base: str,
                editable: bool = False) -> PypiRequirement:
        common: dict[str, Any] = dict(name="", group=group, origin=origin)
        is_url = "://" in target.split(";")[0].split(" ")[0] or target.startswith("git+")
        looks_local = target.startswith((".", "/", "~")) or (editable and not is_url)
        if not (is_url or looks_local):
            if _CONDA_EXPORT.match(target):
                raise SpecError(
                    f"{quote(target)} is a conda package (NAME=VERSION=BUILD): this file is "
                    "`conda list --export` output, not a pip requirements file",
                    where=str(origin),
                    hint="dockyard reads conda packages from an environment file: list them "
                         "under `dependencies:` in environment.yml (NAME=VERSION=BUILD is a "
                         "conda match spec there), or rename this file")
            return requirement(target, origin, group, base)
        location, _, marker = target.partition(";")
        location, extras = _split_extras(location.strip())
        common.update(marker=marker.strip(), extras=extras)
        if location.startswith("git+"):
            git, params = parse_vcs_url(location)
            name = params.get("egg")
        elif is_url:
            name = unquote(split_url(location).fragment.partition("egg=")[2]) or \
                _archive_name(location)
        else:
            location = location.split("#", 1)[0]
            name = self.name_of_path(local_path(location, base)) if self.name_of_path else None
        if not name:
            raise SpecError(f"cannot tell which package {quote(target)} is", where=str(origin),
                            hint=f"name it: NAME @ {pasteable(location)}" if is_url else
                            f"write it as NAME @ file:{location}, or give the folder a "
                            "pyproject.toml with [project] name")
        common["name"] = canonicalize_name(name.split("[")[0])
        if location.startswith("git+"):
            return PypiRequirement(git=git, **common)
        return direct_reference(location if is_url else f"file:{location}", common, base)


def _split_extras(location: str) -> tuple[str, tuple[str, ...]]:
    m = re.fullmatch(r"(.*?)\[([A-Za-z0-9_,.\- ]+)\]", location)
    if not m or "://" in m[2]:
        return location, ()
    return m[1], tuple(sorted(e.strip() for e in m[2].split(",") if e.strip()))


def parse_requirements(text: str, name: str = "requirements.txt", group: str = "main",
                       read_include: ReadInclude | None = None,
                       name_of_path: NameOfPath | None = None) -> Partial:
    """A requirements file -> requirements, constraints and indexes (pure, given the callables).

    `name` is the file's path relative to the project root: relative paths
    inside it (includes, local packages) are taken from its folder.
    """
    reader = LineReader(read_include, name_of_path)
    reader.file(text, name, group)
    return reader.partial()


def group_of(filename: str) -> str:
    """requirements.txt -> main, requirements-dev.txt -> dev, requirements_test.txt -> test."""
    stem = filename.rsplit("/", 1)[-1].removesuffix(".txt").removeprefix("requirements")
    return stem.strip("-_. ") or "main"

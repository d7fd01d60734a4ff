"""poetry.lock and uv.lock -> Pins with their dependency edges: what the developers tested.

Each entry keeps what is needed to tell whether it applies to a target:
its markers (poetry 2.x writes them; uv.lock and older poetry locks say it
through the edges), its python-versions, and the edges to its dependencies
(with their markers and extras). A lock often lists a package twice
(`protobuf 3.20.3` for `python_version <= "3.10"`, `4.25.3` for `>= "3.11"`;
torch from PyPI and `+cu128` from the PyTorch index for an extra): nothing
here picks one. `dockyard.lock.pins.target_pins` walks the edges for the
target before a pin binds anything.

Artifacts and hashes are the resolver's business, for the target platform
rather than the developers' machines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import LockEdge, Pin, ProjectLock
from .locate import OriginOf, no_positions
from .pep508 import clean_url, split_url
from .poetry import _and, python_marker_of, to_pep440


def _packages(doc: Mapping[str, Any], origin_of: OriginOf, what: str) -> list[Mapping[str, Any]]:
    packages = doc.get("package", [])
    tool = "poetry lock" if what.endswith("poetry.lock") else "uv lock"
    if not isinstance(packages, list) or not all(isinstance(p, Mapping) for p in packages):
        raise SpecError(f"expected [[package]] entries in {what}", where=str(origin_of(())),
                        hint=f"regenerate it with `{tool}`")
    for i, package in enumerate(packages):
        if "name" not in package:
            raise SpecError("a [[package]] entry without a name",
                            where=str(origin_of(("package", i))),
                            hint=f"regenerate it with `{tool}`")
    return packages


def _line(origin_of: OriginOf, i: int) -> int | None:
    return origin_of(("package", i)).line


# -- poetry.lock -------------------------------------------------------------------------


def _poetry_spec(constraint: Any) -> str:
    """A poetry constraint as PEP 440; "" (any) where PEP 440 cannot say it (`a || b`)."""
    try:
        return to_pep440(str(constraint))
    except ValueError:
        return ""


def _poetry_edges(name: str, value: Any) -> list[LockEdge]:
    """One `[package.dependencies]` item: a constraint, a table, or a list of tables."""
    canonical = canonicalize_name(name)
    if isinstance(value, list):
        return [e for item in value for e in _poetry_edges(name, item)]
    if not isinstance(value, Mapping):
        return [LockEdge(canonical, _poetry_spec(value))]
    python = python_marker_of(str(value["python"])) if "python" in value else ""
    platform = f'sys_platform == "{value["platform"]}"' if "platform" in value else ""
    marker = _and(python, platform, str(value.get("markers", "")))
    return [LockEdge(canonical, _poetry_spec(value.get("version", "*")), marker,
                     tuple(sorted(str(e) for e in value.get("extras", ()))),
                     optional=bool(value.get("optional", False)))]


_EXTRA_ITEM = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _poetry_extras(extras: Mapping[str, Any]) -> tuple[tuple[str, tuple[LockEdge, ...]], ...]:
    """[package.extras]: extra -> the optional dependencies it turns on ("name (>=1)")."""
    out = []
    for extra, items in sorted(extras.items()):
        names = [m[1] for m in (_EXTRA_ITEM.match(str(i)) for i in items or ()) if m]
        out.append((str(extra), tuple(LockEdge(canonicalize_name(n)) for n in names)))
    return tuple(out)


def _poetry_marker(markers: Any) -> str:
    """poetry 2.x `markers`: a string, or a table of them per group (any group will do)."""
    if isinstance(markers, Mapping):
        values = [str(v) for v in markers.values() if v]
        if len(values) < len(markers):  # a group without a marker: always
            return ""
        return " or ".join(f"({v})" for v in dict.fromkeys(values)) if len(values) > 1 \
            else (values[0] if values else "")
    return str(markers or "")


def parse_poetry_lock(doc: Mapping[str, Any], origin_of: OriginOf | None = None,
                      file: str = "poetry.lock") -> ProjectLock:
    """poetry.lock (lock-version 1.1 to 2.1) -> its entries, edges and markers (pure)."""
    origin_of = origin_of or no_positions(file)
    pins = []
    for i, package in enumerate(_packages(doc, origin_of, file)):
        source = package.get("source") or {}
        kind = str(source.get("type", ""))
        commit = url = None
        if kind == "git":
            commit = str(source.get("resolved_reference") or "") or None
            url = clean_url(str(source.get("url", "")).split("#", 1)[0])
        edges = tuple(e for name, value in (package.get("dependencies") or {}).items()
                      for e in _poetry_edges(name, value))
        pins.append(Pin(
            canonicalize_name(package["name"]), str(package.get("version", "")), file,
            commit, url, marker=_poetry_marker(package.get("markers")),
            requires_python=_poetry_spec(package.get("python-versions", "*")),
            depends=edges, extras=_poetry_extras(package.get("extras") or {}),
            local=kind in ("directory", "file", "url"), line=_line(origin_of, i)))
    metadata = doc.get("metadata") or {}
    return ProjectLock(file, "poetry", _poetry_spec(metadata.get("python-versions", "*")),
                       pins=tuple(sorted(pins, key=_order)))


def _order(pin: Pin) -> tuple:
    return (pin.name, pin.version, pin.line or 0)


# -- uv.lock -----------------------------------------------------------------------------


def _uv_source(source: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, bool]:
    """(source URL, git commit, git repository, local) of a uv.lock `source` table."""
    if "git" in source:
        raw = str(source["git"])
        commit = raw.rpartition("#")[2] if "#" in raw else None
        repo = clean_url(raw.split("#", 1)[0].split("?", 1)[0])
        return repo, commit or None, repo, False
    for key in ("registry", "url"):
        if key in source:
            return clean_url(str(source[key])), None, None, key == "url"
    return None, None, None, True  # editable, virtual, directory, path


def _uv_edges(items: Any) -> tuple[LockEdge, ...]:
    out = []
    for item in items or ():
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        source = item.get("source")
        src = _uv_source(source)[0] if isinstance(source, Mapping) else None
        if src is None and "git" in item:
            src = clean_url(str(item["git"]).split("#", 1)[0].split("?", 1)[0])
        out.append(LockEdge(canonicalize_name(str(item["name"])), "",
                            str(item.get("marker", "")),
                            tuple(sorted(str(e) for e in item.get("extra", ()))),
                            version=str(item["version"]) if "version" in item else None,
                            source=src))
    return tuple(out)


def _uv_tables(table: Any, prefix: str = "") -> tuple[tuple[str, tuple[LockEdge, ...]], ...]:
    if not isinstance(table, Mapping):
        return ()
    return tuple((f"{prefix}{k}", _uv_edges(v)) for k, v in sorted(table.items()))


def parse_uv_lock(doc: Mapping[str, Any], origin_of: OriginOf | None = None,
                  file: str = "uv.lock") -> ProjectLock:
    """uv.lock -> entries with their edges; the project itself (source `.`) gives the roots."""
    origin_of = origin_of or no_positions(file)
    pins, roots, project = [], (), None
    for i, package in enumerate(_packages(doc, origin_of, file)):
        raw_source = package.get("source") or {}
        url, commit, repo, local = _uv_source(raw_source)
        name = canonicalize_name(str(package["name"]))
        extras = _uv_tables(package.get("optional-dependencies"))
        edges = _uv_edges(package.get("dependencies"))
        here = raw_source.get("editable") or raw_source.get("virtual")
        if here in (".", "./") and project is None:
            project = name
            groups = package.get("dev-dependencies") or package.get("dependency-groups")
            roots = (("main", edges), *((f"extra:{k}", v) for k, v in extras),
                     *_uv_tables(groups))
        pins.append(Pin(
            name, str(package.get("version", "")), file, commit, repo,
            marker=" or ".join(f"({m})" for m in package.get("resolution-markers", ()))
            if len(package.get("resolution-markers", ())) > 1
            else "".join(package.get("resolution-markers", ())),
            depends=edges, extras=extras, local=local or "version" not in package,
            line=_line(origin_of, i), index=None if commit else url,
        ))
    return ProjectLock(file, "uv", str(doc.get("requires-python", "")), roots, project,
                       pins=tuple(sorted(pins, key=_order)))


def git_reference(url: str) -> tuple[str, str | None]:
    """`https://host/repo?branch=main#abc` -> ("branch", "main"); no query: ("default", None)."""
    query = parse_qs(split_url(url.split("#", 1)[0]).query)
    for kind in ("branch", "tag", "rev"):
        if kind in query:
            return kind, query[kind][-1]
    return "default", None

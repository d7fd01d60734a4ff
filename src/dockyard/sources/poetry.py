"""[tool.poetry]: dependencies, groups, sources, and poetry's constraint syntax.

Poetry writes `^1.2`, `~1.2`, `1.*` and `a || b`; uv and the lock speak PEP 440.
`to_pep440` converts exactly where PEP 440 can say the same thing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import SpecError
from ..spec import Index, Origin, PypiRequirement
from .locate import OriginOf, Path_
from .pep508 import clean_url, git_source, local_path

log = logging.getLogger(__name__)

_ATOM = re.compile(r"^(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*([0-9A-Za-z.*+!_-]+)$")
_SPLIT = re.compile(r"\s*,\s*|(?<=[0-9A-Za-z*])\s+(?=[\^~=!<>])")


def _bump(release: list[str], position: int) -> str:
    """The upper bound: `release` with component `position` incremented, zeros after it."""
    parts = [int(p) for p in release]
    parts[position] += 1
    return ".".join(str(p) for p in parts[: position + 1] + [0] * (len(parts) - position - 1))


def _atom(op: str, version: str, text: str) -> list[str]:
    if version == "*" or version in ("x", "X"):
        return []
    if op in ("^", "~"):
        try:  # the bound comes from the release part: ^1.0.0rc1 -> >=1.0.0rc1,<2.0.0
            release = [str(p) for p in Version(version).release]
        except InvalidVersion:
            raise ValueError(text) from None
        if op == "^":
            nonzero = next((i for i, p in enumerate(release) if int(p) != 0), len(release) - 1)
            upper = _bump(release, nonzero)
        else:
            upper = _bump(release, 0 if len(release) == 1 else 1)
        return [f">={version}", f"<{upper}"]
    if "*" in version:
        if op not in ("", "==", "=", "!="):
            raise ValueError(text)
        return [f"{'!=' if op == '!=' else '=='}{version}"]
    return [f"{'==' if op in ('', '=') else op}{version}"]


def to_pep440(constraint: str) -> str:
    """Poetry constraint -> PEP 440 specifier set; ValueError if PEP 440 cannot say it.

    `^0.33.0` -> `>=0.33.0,<0.34.0`, `^7.3.1` -> `>=7.3.1,<8.0.0`, `~1.2` -> `>=1.2,<1.3`,
    `1.*` -> `==1.*`, `*` -> ``, `>=1,<2` and `>= 1 <2` -> `>=1,<2`.
    """
    text = constraint.strip()
    if "|" in text:
        raise ValueError(text)
    specs: list[str] = []
    for part in filter(None, _SPLIT.split(text)):
        m = _ATOM.match(part.strip())
        if not m:
            raise ValueError(text)
        specs += _atom(m[1] or "", m[2], text)
    result = ",".join(specs)
    try:
        SpecifierSet(result)
    except InvalidSpecifier:
        raise ValueError(text) from None
    return result


def convert(constraint: str, origin: Origin) -> str:
    try:
        return to_pep440(constraint)
    except ValueError:
        pass
    if "|" in constraint:
        # PEP 440 has no "or": dropping the bound is the only faithful loosening, and
        # the lock file pins (if any) still decide. Said out loud, never silently.
        log.warning("%s: %r has alternatives (||) that PEP 440 cannot express; "
                    "the constraint is left out, add one in dockyard.toml "
                    "[install] constraints if needed", origin, constraint)
        return ""
    raise SpecError(f"not a poetry version constraint: {constraint!r}", where=str(origin),
                    hint='use forms like "^1.2", "~1.2.3", ">=1.2,<2.0", "1.*" or "*"')


def python_marker(constraint: str, origin: Origin) -> str:
    """`python = ">=3.11"` on a dependency -> `python_version >= "3.11"`."""
    return _as_marker(SpecifierSet(convert(constraint, origin)))


def python_marker_of(constraint: str) -> str:
    """`python_marker` for lock files: "" (always) where PEP 440 cannot say the constraint."""
    try:
        return _as_marker(SpecifierSet(to_pep440(constraint)))
    except (ValueError, InvalidSpecifier):
        return ""


def _as_marker(specs: SpecifierSet) -> str:
    parts = []
    for spec in specs:
        version = spec.version
        var = "python_full_version" if version.count(".") >= 2 and "*" not in version \
            else "python_version"
        parts.append(f'{var} {spec.operator} "{version}"')
    return " and ".join(sorted(parts))


def _and(*markers: str) -> str:
    live = [m for m in markers if m]
    if len(live) <= 1:
        return live[0] if live else ""
    return " and ".join(f"({m})" if " or " in m else m for m in live)


_PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32", "windows": "win32"}


def dependency(name: str, value: Any, group: str, path: Path_, origin_of: OriginOf,
               base: str = "") -> list[PypiRequirement]:
    """One entry of a poetry dependencies table; a list of tables gives one requirement
    per entry (poetry's multiple-constraint dependencies)."""
    if isinstance(value, list):
        out: list[PypiRequirement] = []
        for index, item in enumerate(value):
            out += dependency(name, item, group, path + (index,), origin_of, base)
        return out
    origin = origin_of(path)
    canonical = canonicalize_name(name)
    if isinstance(value, str):
        return [PypiRequirement(canonical, convert(value, origin), group=group, origin=origin)]
    if not isinstance(value, Mapping):
        raise SpecError(f"dependency {name!r}: expected a version string or a table, "
                        f"got {value!r}", where=str(origin),
                        hint='e.g. pytest = "^7.3" or xesmf = { git = "https://...", '
                             'branch = "master" }')
    marker = _and(
        python_marker(str(value["python"]), origin) if "python" in value else "",
        f'sys_platform == "{_PLATFORMS.get(str(value["platform"]), value["platform"])}"'
        if "platform" in value else "",
        str(value.get("markers", "")),
    )
    extras = tuple(sorted(str(e) for e in value.get("extras", ())))
    common: dict[str, Any] = dict(name=canonical, extras=extras, marker=marker, group=group,
                                  origin=origin)
    if "git" in value:
        kinds = [k for k in ("branch", "tag", "rev") if k in value]
        if len(kinds) > 1:
            raise SpecError(f"dependency {name!r} sets {' and '.join(kinds)}: pick one",
                            where=str(origin), hint="keep one of branch, tag or rev")
        kind = kinds[0] if kinds else "default"
        git = git_source(str(value["git"]), kind, str(value[kind]) if kinds else None,
                         value.get("subdirectory"))
        return [PypiRequirement(git=git, **common)]
    if "path" in value:
        return [PypiRequirement(path=local_path(str(value["path"]), base), **common)]
    if "url" in value:
        return [PypiRequirement(url=clean_url(str(value["url"])), **common)]
    specifier = convert(str(value.get("version", "*")), origin)
    return [PypiRequirement(specifier=specifier, index=value.get("source"), **common)]


def parse_poetry(doc: Mapping[str, Any], origin_of: OriginOf) -> dict[str, Any]:
    """[tool.poetry] -> requirements, optional groups, indexes, name and python."""
    poetry = doc.get("tool", {}).get("poetry", {})
    found: dict[str, Any] = {"pypi": [], "optional_groups": [], "indexes": []}
    if not poetry:
        return found
    base: Path_ = ("tool", "poetry")
    found["name"] = poetry.get("name")
    extras_of: dict[str, list[str]] = {}
    for extra, names in poetry.get("extras", {}).items():
        for n in names:
            extras_of.setdefault(canonicalize_name(str(n)), []).append(str(extra))

    tables: list[tuple[str, Path_, Mapping[str, Any]]] = [
        ("main", base + ("dependencies",), poetry.get("dependencies", {})),
        ("dev", base + ("dev-dependencies",), poetry.get("dev-dependencies", {})),
    ]
    for group, table in poetry.get("group", {}).items():
        if table.get("optional", False):
            found["optional_groups"].append(group)
        tables.append((group, base + ("group", group, "dependencies"),
                       table.get("dependencies", {})))

    for group, path, deps in tables:
        for name, value in deps.items():
            if group == "main" and name.lower() == "python":
                found["python"] = convert(str(value), origin_of(path + (name,)))
                continue
            reqs = dependency(name, value, group, path + (name,), origin_of)
            optional = isinstance(value, Mapping) and value.get("optional", False)
            if group == "main" and optional:
                # optional main dependencies exist only through [tool.poetry.extras]
                reqs = [_regroup(r, f"extra:{e}") for r in reqs
                        for e in extras_of.get(r.name, [])]
            found["pypi"] += reqs

    for index, source in enumerate(poetry.get("source", [])):
        found["indexes"].append(_source(source, base + ("source", index), origin_of))
    if not any(i.name.lower() == "pypi" for i in found["indexes"]):
        # `source = "pypi"` names poetry's implicit PyPI: no index to route to
        found["pypi"] = [_regroup(r, r.group, index=None) if (r.index or "").lower() == "pypi"
                         else r for r in found["pypi"]]
    return found


def _regroup(req: PypiRequirement, group: str, **changes: Any) -> PypiRequirement:
    return replace(req, group=group, **changes)


def _source(source: Mapping[str, Any], path: Path_, origin_of: OriginOf) -> Index:
    origin = origin_of(path)
    if "name" not in source:
        raise SpecError("a poetry source without a name", where=str(origin),
                        hint='add name = "..." to the [[tool.poetry.source]] entry')
    priority = str(source.get("priority", "")).lower()
    if source.get("default"):
        priority = "default"
    elif source.get("secondary"):
        priority = "supplemental"
    if priority not in ("", "primary", "default", "supplemental", "secondary", "explicit"):
        raise SpecError(f"unknown poetry source priority {priority!r}",
                        where=str(origin_of(path + ("priority",))),
                        hint="use primary, supplemental or explicit")
    url = source.get("url")
    if not url:
        if str(source["name"]).lower() == "pypi":
            url = "https://pypi.org/simple"
        else:
            raise SpecError(f"poetry source {source['name']!r} has no url", where=str(origin),
                            hint='add url = "https://.../simple"')
    # Poetry: a primary (or the legacy default) source disables the implicit PyPI.
    return Index(name=str(source["name"]), url=clean_url(str(url)),
                 explicit=priority == "explicit",
                 default=priority in ("", "primary", "default"), origin=origin)

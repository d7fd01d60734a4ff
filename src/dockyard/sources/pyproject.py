"""pyproject.toml: PEP 621 [project], PEP 735 [dependency-groups], [tool.uv], [tool.poetry].

Both [project] and [tool.poetry] may be present (the founding case has both):
each is read on purpose and every requirement keeps its own origin; when a
package appears in both, both entries are kept and the resolver merges them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import DependencyMetadata, Index, PypiRequirement
from .locate import OriginOf, Path_, no_positions
from .model import Partial
from .pep508 import clean_url, git_source, local_path, requirement
from .poetry import parse_poetry


def _strings(value: Any, path: Path_, origin_of: OriginOf) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"expected a list of requirement strings, got {value!r}",
                        where=str(origin_of(path)),
                        hint='e.g. dependencies = ["numpy>=1.25", "xarray"]')
    return value


def _project(doc: Mapping[str, Any], origin_of: OriginOf) -> list[PypiRequirement]:
    project = doc.get("project", {})
    out: list[PypiRequirement] = []
    path: Path_ = ("project", "dependencies")
    for i, text in enumerate(_strings(project.get("dependencies", []), path, origin_of)):
        out.append(requirement(text, origin_of(path + (i,)), "main"))
    for extra, items in project.get("optional-dependencies", {}).items():
        path = ("project", "optional-dependencies", extra)
        for i, text in enumerate(_strings(items, path, origin_of)):
            out.append(requirement(text, origin_of(path + (i,)), f"extra:{extra}"))
    return out


def _dependency_groups(doc: Mapping[str, Any], origin_of: OriginOf) -> list[PypiRequirement]:
    """PEP 735 groups, with {include-group = "..."} expanded."""
    groups = doc.get("dependency-groups", {})
    out: list[PypiRequirement] = []

    def expand(name: str, as_group: str, seen: tuple[str, ...]) -> None:
        if name not in groups:
            raise SpecError(f"dependency group {as_group!r} includes {name!r}, which does not "
                            "exist", where=str(origin_of(("dependency-groups", seen[-1]))),
                            hint=f"defined groups: {', '.join(sorted(groups)) or 'none'}")
        if name in seen:
            raise SpecError(f"dependency groups include each other: {' -> '.join(seen + (name,))}",
                            where=str(origin_of(("dependency-groups", name))),
                            hint="remove one of the include-group entries")
        for i, item in enumerate(groups[name]):
            path = ("dependency-groups", name, i)
            if isinstance(item, str):
                out.append(requirement(item, origin_of(path), as_group))
            elif isinstance(item, Mapping) and "include-group" in item:
                expand(str(item["include-group"]), as_group, seen + (name,))
            else:
                raise SpecError(f"unexpected entry {item!r} in dependency group {name!r}",
                                where=str(origin_of(path)),
                                hint='use requirement strings or {include-group = "NAME"}')

    for name in groups:
        expand(name, name, ())
    return out


def _uv_dev(uv: Mapping[str, Any], origin_of: OriginOf) -> list[PypiRequirement]:
    """uv's older `[tool.uv] dev-dependencies`: the group "dev", as uv itself treats it."""
    path: Path_ = ("tool", "uv", "dev-dependencies")
    return [requirement(text, origin_of(path + (i,)), "dev")
            for i, text in enumerate(_strings(uv.get("dev-dependencies", []), path, origin_of))]


def _uv_indexes(uv: Mapping[str, Any], origin_of: OriginOf) -> list[Index]:
    out = []
    for i, entry in enumerate(uv.get("index", [])):
        path = ("tool", "uv", "index", i)
        if "url" not in entry:
            raise SpecError("a [[tool.uv.index]] entry without url", where=str(origin_of(path)),
                            hint='add url = "https://.../simple"')
        name = str(entry.get("name") or clean_url(str(entry["url"])))
        out.append(Index(name=name, url=clean_url(str(entry["url"])),
                         explicit=bool(entry.get("explicit", False)),
                         default=bool(entry.get("default", False)), origin=origin_of(path)))
    return out


def _uv_source(req: PypiRequirement, entry: Mapping[str, Any], path: Path_,
               origin_of: OriginOf, members: Mapping[str, str]) -> PypiRequirement | None:
    """`req` as routed by one [tool.uv.sources] entry; None if the entry does not apply."""
    if "extra" in entry and req.group != f"extra:{entry['extra']}":
        return None
    if "group" in entry and req.group != entry["group"]:
        return None
    marker = req.marker
    if "marker" in entry:
        marker = f"({req.marker}) and ({entry['marker']})" if req.marker else str(entry["marker"])
    if "git" in entry:
        kinds = [k for k in ("branch", "tag", "rev") if k in entry]
        kind = kinds[0] if kinds else "default"
        git = git_source(str(entry["git"]), kind, str(entry[kind]) if kinds else None,
                         entry.get("subdirectory"))
        return replace(req, git=git, specifier="", marker=marker)
    if "path" in entry:
        return replace(req, path=local_path(str(entry["path"])), specifier="", marker=marker)
    if "url" in entry:
        return replace(req, url=clean_url(str(entry["url"])), specifier="", marker=marker)
    if "index" in entry:
        return replace(req, index=str(entry["index"]), marker=marker)
    if entry.get("workspace"):
        member = members.get(req.name)
        if member is None:
            raise SpecError(f"{req.name} is marked workspace = true but no workspace member "
                            "has that name", where=str(origin_of(path)),
                            hint="check [tool.uv.workspace] members, or drop the source")
        return replace(req, path=member, specifier="", marker=marker)
    raise SpecError(f"unknown [tool.uv.sources] entry for {req.name}: {sorted(entry)}",
                    where=str(origin_of(path)),
                    hint="use one of git, path, url, index or workspace")


_NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">",
           "in": "not in", "not in": "in"}
_COMPARISON = re.compile(r"""^\s*([\w.]+|'[^']*'|"[^"]*")\s*(==|!=|<=|>=|<|>|not in|in)\s*"""
                         r"""([\w.]+|'[^']*'|"[^"]*")\s*$""")


def _negate(marker: str) -> str | None:
    """`sys_platform == 'linux'` -> `sys_platform != 'linux'`; None unless one comparison
    (PEP 508 markers have no `not`)."""
    m = _COMPARISON.match(marker)
    return f"{m[1]} {_NEGATE[m[2]]} {m[3]}" if m else None


def _uv_metadata(uv: Mapping[str, Any], origin_of: OriginOf) -> tuple[DependencyMetadata, ...]:
    out = []
    for i, entry in enumerate(uv.get("dependency-metadata", [])):
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise SpecError("a [[tool.uv.dependency-metadata]] entry without a name",
                            where=str(origin_of(("tool", "uv", "dependency-metadata", i))),
                            hint='add name = "..." (and version, requires-dist)')
        out.append(DependencyMetadata(
            canonicalize_name(str(entry["name"])), str(entry.get("version", "")),
            tuple(str(r) for r in entry.get("requires-dist", ())),
            str(entry.get("requires-python", ""))))
    return tuple(out)


def _apply_uv_sources(reqs: list[PypiRequirement], uv: Mapping[str, Any], origin_of: OriginOf,
                      members: Mapping[str, str]) -> list[PypiRequirement]:
    sources: dict[str, tuple[str, Any]] = {
        canonicalize_name(k): (k, v) for k, v in uv.get("sources", {}).items()}
    out = []
    for req in reqs:
        if req.name not in sources:
            out.append(req)
            continue
        key, value = sources[req.name]
        entries = value if isinstance(value, list) else [value]
        routed = []
        for i, entry in enumerate(entries):
            path: Path_ = ("tool", "uv", "sources", key) + ((i,) if isinstance(value, list) else ())
            done = _uv_source(req, entry, path, origin_of, members)
            if done is not None:
                routed.append(done)
        markers = [str(e["marker"]) for e in entries if "marker" in e]
        inverted = [_negate(m) for m in markers]
        if routed and len(markers) == len(entries) and all(inverted):
            # where no entry's marker holds, uv takes the package from the default index
            rest = " and ".join(i for i in inverted if i)
            routed.append(replace(req, marker=f"({req.marker}) and {rest}" if req.marker
                                  else rest))
        out += routed or [req]
    return out


def _intersect(*specs: str | None) -> str | None:
    live = [s for s in specs if s]
    if not live:
        return None
    return str(SpecifierSet(",".join(live))) if len(live) > 1 else live[0]


def parse_pyproject(doc: Mapping[str, Any], origin_of: OriginOf | None = None,
                    members: Mapping[str, str] | None = None) -> Partial:
    """Everything dockyard needs from a pyproject.toml mapping (pure).

    `members` maps workspace member names to their folders, for uv's
    `{ workspace = true }` sources (read_project finds them).
    """
    origin_of = origin_of or no_positions("pyproject.toml")
    uv = doc.get("tool", {}).get("uv", {})
    reqs = _project(doc, origin_of) + _dependency_groups(doc, origin_of) + _uv_dev(uv, origin_of)
    reqs = _apply_uv_sources(reqs, uv, origin_of, members or {})
    poetry = parse_poetry(doc, origin_of)
    requires_python = doc.get("project", {}).get("requires-python")
    if requires_python is not None:
        try:
            SpecifierSet(str(requires_python))
        except InvalidSpecifier:
            raise SpecError(f"requires-python is not a PEP 440 specifier: {requires_python!r}",
                            where=str(origin_of(("project", "requires-python"))),
                            hint='e.g. requires-python = ">=3.11,<3.14"') from None
    python_path: Path_ = (("project", "requires-python") if requires_python is not None
                          else ("tool", "poetry", "dependencies", "python"))
    return Partial(
        dependency_metadata=_uv_metadata(uv, origin_of),
        name=doc.get("project", {}).get("name") or poetry.get("name"),
        requires_python=_intersect(requires_python, poetry.get("python")),
        requires_python_origin=origin_of(python_path),
        pypi=tuple(reqs + poetry["pypi"]),
        indexes=tuple(_uv_indexes(uv, origin_of) + poetry["indexes"]),
        # PEP 735 groups are opt-in for an image (uv's default "dev" is for developers).
        optional_groups=tuple(dict.fromkeys(
            poetry["optional_groups"] + list(doc.get("dependency-groups", {}))
            + (["dev"] if uv.get("dev-dependencies") else []))),
    )


def declares_dependencies(doc: Mapping[str, Any]) -> bool:
    """Whether the pyproject says anything about dependencies (else requirements*.txt rule)."""
    poetry = doc.get("tool", {}).get("poetry", {})
    return bool(doc.get("project", {}).get("dependencies")
                or doc.get("project", {}).get("optional-dependencies")
                or doc.get("dependency-groups")
                or doc.get("tool", {}).get("uv", {}).get("dev-dependencies")
                or set(poetry.get("dependencies", {})) - {"python"}
                or poetry.get("group") or poetry.get("dev-dependencies"))


"""poetry.lock and uv.lock -> Pins: the versions the developers tested.

Only name, version and (for git) the commit are kept; artifacts and hashes
are the resolver's business, for the target platform rather than the
developers' machines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import Pin
from .locate import OriginOf, no_positions


def _packages(doc: Mapping[str, Any], origin_of: OriginOf, what: str) -> list[Mapping[str, Any]]:
    packages = doc.get("package", [])
    tool = "poetry lock" if what == "poetry.lock" else "uv lock"
    if not isinstance(packages, list) or not all(isinstance(p, Mapping) for p in packages):
        raise SpecError(f"expected [[package]] entries in {what}", where=str(origin_of(())),
                        hint=f"regenerate it with `{tool}`")
    for i, package in enumerate(packages):
        if "name" not in package:
            raise SpecError("a [[package]] entry without a name",
                            where=str(origin_of(("package", i))),
                            hint=f"regenerate it with `{tool}`")
    return packages


def parse_poetry_lock(doc: Mapping[str, Any], origin_of: OriginOf | None = None) -> tuple[Pin, ...]:
    origin_of = origin_of or no_positions("poetry.lock")
    pins = []
    for package in _packages(doc, origin_of, "poetry.lock"):
        source = package.get("source") or {}
        commit = source.get("resolved_reference") if source.get("type") == "git" else None
        pins.append(Pin(canonicalize_name(package["name"]), str(package.get("version", "")),
                        "poetry.lock", commit or None))
    return tuple(sorted(pins, key=lambda p: (p.name, p.version)))


def parse_uv_lock(doc: Mapping[str, Any], origin_of: OriginOf | None = None) -> tuple[Pin, ...]:
    """uv.lock pins; the project itself and workspace members (editable/virtual) are skipped."""
    origin_of = origin_of or no_positions("uv.lock")
    pins = []
    for package in _packages(doc, origin_of, "uv.lock"):
        source = package.get("source") or {}
        if "editable" in source or "virtual" in source:
            continue
        commit = None
        if "git" in source:
            commit = str(source["git"]).rpartition("#")[2] or None
        if "version" not in package:  # dynamic versions of local packages
            continue
        pins.append(Pin(canonicalize_name(package["name"]), str(package["version"]), "uv.lock",
                        commit))
    return tuple(sorted(pins, key=lambda p: (p.name, p.version)))

"""conda-lock and pixi lock files -> conda Pins (and PyPI pins they carry).

    conda-lock.yml          conda-lock's unified lock: `package:` records per platform
    conda-<subdir>.lock     conda-lock's explicit lock: `@EXPLICIT` then one URL per package
    pixi.lock               pixi's lock: environments -> platform -> package URLs

Each record becomes a Pin whose marker names its platform, so only the
target's records apply. dockyard honours their versions the way it honours
poetry.lock's: they bind the conda solve (`name ==version`); builds are left
to the solve, which must fit the target's CUDA and glibc.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from ..spec import Pin, ProjectLock
from .pep508 import split_url

_EXTS = (".conda", ".tar.bz2")
_OS = {"linux": ('sys_platform == "linux"', "Linux"), "osx": ('sys_platform == "darwin"', ""),
       "win": ('sys_platform == "win32"', "")}
_ARCH = {"64": "x86_64", "aarch64": "aarch64", "ppc64le": "ppc64le", "arm64": "arm64"}


def platform_marker(subdir: str) -> str:
    """`linux-64` -> `sys_platform == "linux" and platform_machine == "x86_64"`."""
    os_, _, arch = subdir.partition("-")
    if os_ not in _OS:
        return 'sys_platform == "never"' if subdir != "noarch" else ""
    machine = _ARCH.get(arch, arch)
    if os_ == "win":
        machine = "AMD64" if arch == "64" else machine
    return f'{_OS[os_][0]} and platform_machine == "{machine}"'


def conda_filename(url: str) -> tuple[str, str, str] | None:
    """`.../numpy-1.26.4-py312h_0.conda#md5` -> ("numpy", "1.26.4", "py312h_0")."""
    name = unquote(split_url(url.split("#", 1)[0]).path.rsplit("/", 1)[-1])
    for ext in _EXTS:
        if name.endswith(ext):
            parts = name[: -len(ext)].rsplit("-", 2)
            return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None
    return None


def _wheel_or_sdist(url: str) -> tuple[str, str] | None:
    name = unquote(split_url(url).path.rsplit("/", 1)[-1])
    if name.endswith(".whl"):
        parts = name.split("-")
        return (parts[0], parts[1]) if len(parts) >= 2 else None
    m = re.match(r"^(.+)-([0-9][^-]*)\.(tar\.gz|zip)$", name)
    return (m[1], m[2]) if m else None


def parse_conda_lock(doc: Any, file: str) -> ProjectLock:
    """conda-lock's unified `conda-lock.yml`."""
    pins = []
    for p in (doc.get("package") or []) if isinstance(doc, Mapping) else []:
        if not isinstance(p, Mapping) or "name" not in p or "version" not in p:
            continue
        manager = "conda" if p.get("manager", "conda") == "conda" else "pypi"
        name = str(p["name"]) if manager == "conda" else canonicalize_name(str(p["name"]))
        build = ""
        if manager == "conda" and p.get("url"):
            parsed = conda_filename(str(p["url"]))
            build = parsed[2] if parsed else ""
        pins.append(Pin(name, str(p["version"]), file, marker=platform_marker(
            str(p.get("platform", ""))), manager=manager, build=build,
            local=bool(p.get("optional", False))))
    return ProjectLock(file, "conda-lock", walk=False, pins=tuple(pins))


def parse_explicit(text: str, file: str) -> ProjectLock:
    """conda-lock's (or `conda list --explicit`'s) `@EXPLICIT` file for one platform."""
    subdir = ""
    pins = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("# platform:"):
            subdir = line.split(":", 1)[1].strip()
        if not line or line.startswith(("#", "@")):
            continue
        parsed = conda_filename(line)
        if parsed:
            pins.append(Pin(parsed[0], parsed[1], file, marker=platform_marker(subdir),
                            manager="conda", build=parsed[2], line=number))
    return ProjectLock(file, "conda-lock", walk=False, pins=tuple(pins))


def is_explicit(text: str) -> bool:
    return any(line.strip() == "@EXPLICIT" for line in text.splitlines()[:40])


def parse_pixi_lock(doc: Any, file: str, environment: str = "default") -> ProjectLock:
    """pixi.lock (versions 4-6): the packages of one environment, per platform."""
    if not isinstance(doc, Mapping):
        return ProjectLock(file, "pixi", walk=False)
    envs = doc.get("environments") or {}
    env = envs.get(environment) or next(iter(envs.values()), {}) if envs else {}
    described = {}
    for p in doc.get("packages") or []:
        if isinstance(p, Mapping):
            url = str(p.get("conda") or p.get("pypi") or "")
            described[url] = p
    pins = []
    for subdir, items in ((env.get("packages") or {}) if isinstance(env, Mapping) else {}).items():
        for item in items or []:
            if not isinstance(item, Mapping):
                continue
            if "conda" in item:
                parsed = conda_filename(str(item["conda"]))
                if parsed:
                    pins.append(Pin(parsed[0], parsed[1], file, marker=platform_marker(subdir),
                                    manager="conda", build=parsed[2]))
            elif "pypi" in item:
                url = str(item["pypi"])
                info = described.get(url, {})
                name_version = ((info["name"], info["version"]) if "name" in info and
                                "version" in info else _wheel_or_sdist(url))
                if name_version:
                    pins.append(Pin(canonicalize_name(str(name_version[0])),
                                    str(name_version[1]), file,
                                    marker=platform_marker(subdir)))
    return ProjectLock(file, "pixi", walk=False, pins=tuple(pins))

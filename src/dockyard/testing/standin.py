"""A STAND-IN conda channel made from what a project asks for: not conda-forge.

conda-forge (and every other conda channel) is unreachable from the machines
dockyard is developed on, yet real projects ask for conda packages. This
helper builds a real local channel (real `.conda` archives, a real index,
solved by py-rattler like any channel) whose packages are made up from the
project's own files:

- one package per name the environment file asks for, at a version that
  satisfies every spec on that name (`esmpy==7.1.0r`, `python=3.7`,
  `pytorch>=2.0.0=*cuda118*` gets a `cuda118` build);
- where a conda-lock or pixi lock sits beside the environment file, its
  linux-64 records instead: the locked version, its build and its
  dependencies (followed, so the solve has what they need), plus one newer
  version of each requested package, so that a lock pin that failed to
  bind would show (the solve would take the newer one);
- a `site-packages/<dist>-<version>.dist-info/METADATA` in each Python
  package, naming the PyPI distribution it installs (`pytorch` -> `torch`),
  which is how dockyard maps a conda package to its PyPI name.

What it cannot know it does not invent: packages carry no files beyond the
dist-info, and no dependencies unless a lock gives them. Locks made against it
prove what dockyard does with a project's conda part (specs, pins, owners,
CUDA builds), not that conda-forge has these versions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ..spec import ProjectSpec
from .channel import CondaPackage, build_channel

# conda name -> the PyPI distribution its dist-info names, where they differ
PYPI_NAMES = {
    "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": None,
    "matplotlib-base": "matplotlib",
    "pytables": "tables", "py-opencv": "opencv-python", "dask-core": "dask", "dask": None,
    "tensorflow-base": "tensorflow", "python-kaleido": "kaleido", "msgpack-python": "msgpack",
    "pyqt": "pyqt5", "gdal": "gdal", "libgdal": None, "yaml": None, "python": None,
    "python_abi": None, "cuda-version": None, "pytorch-cuda": None, "cudatoolkit": None,
}
_NATIVE_PREFIXES = ("lib", "r-", "_", "font", "cuda-", "xorg-", "gst", "perl-", "ca-cert")
_NATIVE = {"proj", "geos", "hdf5", "hdf4", "netcdf-fortran", "openssl", "zlib", "zstd", "curl",
           "ffmpeg", "gmt", "glpk", "cudnn", "nccl", "mpich", "openmpi", "fftw", "eccodes",
           "cdo", "nco", "git", "make", "cmake", "ninja", "nodejs", "gcc", "gxx", "gfortran",
           "compilers", "cxx-compiler", "c-compiler", "fortran-compiler", "tk", "xz", "bzip2",
           "ncurses", "readline", "sqlite", "icu", "krb5", "tzdata", "openjdk", "go", "rust",
           "qgis", "gdal-bin", "lalsuite", "omicron", "nds2-client", "tini", "jq", "bash",
           "coreutils", "unzip", "zip", "wget", "vim", "htop", "tree", "rclone", "gurobi"}


def dist_of(name: str) -> str | None:
    """The PyPI distribution a conda package of this name installs (a stand-in's guess)."""
    if name in PYPI_NAMES:
        return PYPI_NAMES[name]
    if name in _NATIVE or name.startswith(_NATIVE_PREFIXES) or name.endswith(("-dev", "-devel")):
        return None
    return name


PYTHONS = ("3.9.19", "3.10.14", "3.11.9", "3.12.11", "3.13.5")
_TOKEN = re.compile(r"\d+(?:\.\d+)*(?:[a-z]+\d*)?")
_WHOLE = re.compile(r"[0-9][0-9A-Za-z._!+]*")


def _bump(version: str) -> str:
    parts = version.split(".")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].isdigit():
            parts[i] = str(int(parts[i]) + 1)
            return ".".join(parts[: i + 1] + ["0"] * (len(parts) - i - 1))
    return version + ".1"


def _version_specs(specs: Iterable[str]) -> list[str]:
    from rattler import MatchSpec

    out = []
    for text in specs:
        try:
            version = MatchSpec(text).version
        except Exception:  # rattler's InvalidMatchSpecError: the readers said so already
            continue
        if version:
            out.append(str(version))
    return out


def satisfies(version: str, specs: Iterable[str]) -> bool:
    from rattler import Version, VersionSpec

    try:
        return all(VersionSpec(s).matches(Version(version)) for s in specs)
    except Exception:
        return False


def choose_version(specs: Iterable[str], prefer: Iterable[str] = ()) -> str:
    """A version meeting every version spec: a preferred one (a lock's) if it does, else the
    highest of the versions the specs name, bumped and padded."""
    version_specs = _version_specs(specs)
    exact = [v[2:] for v in version_specs if v.startswith("==") and "," not in v]
    for v in [*prefer, *exact]:
        if satisfies(v, version_specs):
            return v
    tokens = {t for s in version_specs for t in _TOKEN.findall(s)}
    tokens |= {t.rstrip(".*") for s in version_specs for t in _WHOLE.findall(s)}  # 2.3.2.post1
    candidates = set(tokens)
    for t in tokens:
        candidates |= {_bump(t), f"{t}.0", f"{t}.1", _bump(f"{t}.0")}
    ok = [c for c in candidates if satisfies(c, version_specs)]
    if not ok:
        return "1.0.0" if satisfies("1.0.0", version_specs) else (sorted(tokens) or ["1.0"])[0]
    from rattler import Version

    return max(ok, key=Version)


def _build_for(specs: Iterable[str]) -> str:
    """A build string the specs accept: an exact one as it is, a glob filled in."""
    from rattler import MatchSpec

    for text in specs:
        try:
            build = MatchSpec(text).build
        except Exception:
            continue
        if build and "*" not in str(build):
            return str(build)
        if build:
            return re.sub(r"[^A-Za-z0-9_]", "_", str(build).replace("*", "")).strip("_") + "_0"
    return "0"


def _lock_records(spec: ProjectSpec, platform: str, python: str) -> dict[str, dict[str, Any]]:
    """name -> {version, build, depends} of the conda-lock / pixi records that bind the
    target (the same choice dockyard makes: `target_pins`)."""
    from ..lock.pins import TargetEnv, target_pins
    from ..lock.rules import wanted_groups

    bound, _ = target_pins(spec, TargetEnv(python, platform), wanted_groups(spec))
    records = _all_records(spec, platform)
    return {p.name: records.get((p.name, p.version), {"version": p.version,
                                                      "build": p.build or "0", "depends": ()})
            for p in bound if p.manager == "conda"}


@functools.lru_cache(maxsize=8)
def _records_of(root: str, file: str, kind: str, platform: str) -> tuple[tuple[str, Any], ...]:
    return tuple(_read_records(Path(root, file), file, kind, platform).items())


def _all_records(spec: ProjectSpec, platform: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(name, version) -> record, over every conda lock read; records with dependencies win."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for lock in spec.locks:
        if lock.kind in ("conda-lock", "pixi"):
            for name, record in _records_of(spec.root, lock.file, lock.kind, platform):
                key = (name, record["version"])
                if key not in out or not out[key]["depends"]:
                    out[key] = record
    return out


def _read_records(path: Path, file: str, kind: str, platform: str) -> dict[str, dict[str, Any]]:
    from ..sources.condalocks import conda_filename
    from ..sources.readers import yaml_document

    out: dict[str, dict[str, Any]] = {}
    text = path.read_text()
    if kind == "conda-lock" and file.endswith(".lock") and "@EXPLICIT" in text:
        for line in text.splitlines():
            parsed = conda_filename(line.strip()) if line.startswith("http") else None
            if parsed:
                out.setdefault(parsed[0], {"version": parsed[1], "build": parsed[2],
                                           "depends": ()})
        return out
    doc = yaml_document(text, file)
    if kind == "conda-lock":
        for p in doc.get("package") or []:
            if p.get("manager") == "conda" and p.get("platform") == platform:
                parsed = conda_filename(str(p.get("url", "")))
                deps = tuple(f"{k} {v}".strip() for k, v in (p.get("dependencies")
                                                             or {}).items())
                out.setdefault(str(p["name"]), {"version": str(p["version"]),
                                                "build": parsed[2] if parsed else "0",
                                                "depends": deps})
    else:
        described = {str(p.get("conda")): p for p in doc.get("packages") or []
                     if isinstance(p, Mapping) and "conda" in p}
        env = (doc.get("environments") or {}).get("default") or {}
        for item in (env.get("packages") or {}).get(platform, []):
            url = str(item.get("conda", "")) if isinstance(item, Mapping) else ""
            parsed = conda_filename(url)
            if parsed:
                deps = tuple(str(d) for d in described.get(url, {}).get("depends", ()))
                out.setdefault(parsed[0], {"version": parsed[1], "build": parsed[2],
                                           "depends": deps})
    return out


def _dep_name(dep: str) -> str:
    return re.split(r"[\s=<>!~]", dep.strip(), maxsplit=1)[0]


def standin_packages(spec: ProjectSpec, python: str = "3.12.11",
                     platform: str = "linux-64") -> list[CondaPackage]:
    """The packages of a stand-in channel for `spec`'s conda part (see the module's doc)."""
    asked: dict[str, list[str]] = {}
    for c in spec.conda:
        asked.setdefault(c.name, []).append(c.spec)
    asked.setdefault("python", [])
    records = _lock_records(spec, platform, python)
    wanted = dict.fromkeys(asked)
    queue = [n for n in asked if n in records]
    while queue:  # the lock's records the requested ones depend on
        name = queue.pop()
        for dep in records.get(name, {}).get("depends", ()):
            dep_name = _dep_name(dep)
            if dep_name.startswith("__") or dep_name in wanted or dep_name not in records:
                continue
            wanted[dep_name] = None
            queue.append(dep_name)
    out: list[CondaPackage] = []
    dists: set[str] = set()
    pypi_pins: dict[str, set[str]] = {}
    for p in spec.pins:
        if p.manager == "pypi" and not p.local:
            pypi_pins.setdefault(p.name, set()).add(p.version)
    for name in wanted:
        specs = asked.get(name, [])
        record = records.get(name)
        prefer = [record["version"]] if record else ([python] if name == "python" else [])
        version = choose_version(specs, prefer)
        locked = record is not None and version == record["version"]
        build = record["build"] if locked else _build_for(specs)
        depends = tuple(d for d in record["depends"] if _dep_name(d) in wanted) \
            if locked else ()
        dist = dist_of(name)
        if dist and canonicalize_name(dist) in dists:  # cached-property / cached_property
            dist = None
        if dist:
            dists.add(canonicalize_name(dist))
        if dist and "python" not in {_dep_name(d) for d in depends}:
            depends = ("python", *depends)  # a Python package: dockyard reads its dist-info
        out.append(CondaPackage(name, version, build or "0", depends=depends, dist=dist))
        # the versions the project's PyPI side pins for what conda owns (poetry.lock's
        # python-ligo-lw): the real channel has them too, so the solve can honour them
        for other in sorted(pypi_pins.get(canonicalize_name(dist), ()) if dist else ()):
            if other != version and satisfies(other, _version_specs(specs)):
                out.append(CondaPackage(name, other, build or "0", depends=depends, dist=dist))
        if name == "python" and not locked:  # like conda-forge: several, the solve picks
            for other in PYTHONS:
                if other != version and satisfies(other, _version_specs(specs)):
                    out.append(CondaPackage(name, other, "0"))
        if locked and name in asked and name != "python":
            newer = _bump(version)
            if satisfies(newer, _version_specs(specs)):  # a pin that failed to bind shows
                out.append(CondaPackage(name, newer, build or "0", depends=depends, dist=dist))
    return out


def standin_channel(spec: ProjectSpec, dest: Path, python: str = "3.12.11",
                    platform: str = "linux-64") -> str:
    """Build the stand-in channel for `spec` in `dest`; its file:// URL."""
    return build_channel(Path(dest), standin_packages(spec, python, platform))

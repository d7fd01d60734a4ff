"""The conda side of the lock: a py-rattler solve for the TARGET, and what it installs.

`solve` wraps rattler's coroutine once (the only async in dockyard). Virtual
packages are the target's, from dockyard.toml, never the build machine's.
`distributions` reads which PyPI distributions each solved package installs
(the `*.dist-info` directories listed in its info/paths.json), from artifacts
fetched into a content-addressed cache and checked against their sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from .. import aio
from ..caches import mark_used
from ..errors import LockError
from ..redact import redact, strip_credentials
from .model import Artifact, LockedPackage, Note

log = logging.getLogger(__name__)

# conda's directive "do not add the defaults channel": not a channel.
_DIRECTIVES = {"nodefaults"}
_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}
TARGET_LINUX = "4.18"  # the kernel we promise packages: RHEL 8's, as old as glibc 2.28


@dataclass(frozen=True, slots=True)
class Request:
    specs: tuple[str, ...]
    channels: tuple[str, ...]
    platform: str = "linux-64"
    glibc: str = "2.28"
    cuda: str | None = None
    channel_priority: str = "strict"
    constraints: tuple[str, ...] = ()
    where: str = "environment.yml"  # named in errors


def virtual_packages(platform: str, glibc: str, cuda: str | None) -> tuple[str, ...]:
    """The target's virtual packages as `name=version[=build]`."""
    out = [f"__glibc={glibc}", f"__linux={TARGET_LINUX}", "__unix=0"]
    if platform in _ARCH:
        out.append(f"__archspec=1={_ARCH[platform]}")
    if cuda:
        out.append(f"__cuda={cuda}")
    return tuple(out)


def channels_of(channels: Iterable[str]) -> tuple[str, ...]:
    return tuple(c for c in channels if c not in _DIRECTIVES)


def channel_url(channel: str) -> str:
    """A channel name or URL as the URL rattler uses (credentials stripped)."""
    if "://" in channel:
        return strip_credentials(channel.rstrip("/"))
    return f"https://conda.anaconda.org/{channel}"


def constraints_for(request: Request) -> tuple[str, ...]:
    """The request's constraints plus `cuda-version` pinned to the target's CUDA.

    A constraint only binds if the package is in the solve, so this pins
    cuda-version exactly when the solve contains CUDA packages.
    """
    extra: tuple[str, ...] = ()
    if request.cuda:
        major_minor = ".".join(request.cuda.split(".")[:2])
        extra = (f"cuda-version {major_minor}.*",)
    return tuple(dict.fromkeys((*request.constraints, *extra)))


def solve(request: Request) -> tuple[LockedPackage, ...]:
    """Solve `request` with py-rattler; packages carry artifacts and depends, no reason yet."""
    import rattler
    from rattler import (
        BuildString,
        ChannelPriority,
        GenericVirtualPackage,
        PackageName,
        Version,
    )
    from rattler.exceptions import (
        FetchRepoDataError,
        GatewayError,
        InvalidMatchSpecError,
        SolverError,
    )

    channels = channels_of(request.channels)
    if not channels:
        raise LockError("no conda channel to solve from", where=request.where,
                        hint="list channels in environment.yml or [conda] channels in "
                             "dockyard.toml")
    vps = []
    for text in virtual_packages(request.platform, request.glibc, request.cuda):
        name, version, *build = text.split("=")
        vps.append(GenericVirtualPackage(PackageName(name), Version(version),
                                         BuildString(build[0] if build else "0")))
    priority = (ChannelPriority.Strict if request.channel_priority == "strict"
                else ChannelPriority.Disabled)
    sources = [rattler.Channel(c) for c in channels]
    coro = rattler.solve(
        sources=sources, specs=[strict_spec(x) for x in request.specs],  # type: ignore[misc]
        platforms=[request.platform, "noarch"],  # type: ignore[list-item]
        virtual_packages=vps, channel_priority=priority,
        constraints=[strict_spec(x) for x in constraints_for(request)],
    )
    try:
        records = aio.run(coro)
    except InvalidMatchSpecError as exc:
        raise LockError(f"a conda match spec cannot be parsed: {exc}", where=request.where,
                        hint="write it as `name`, `name=1.2` or `name >=1.2,<2`") from None
    except (FetchRepoDataError, GatewayError) as exc:
        raise LockError(
            f"a conda channel is unreachable: {_trim(str(exc))}",
            where=request.where,
            hint="check the channel names/URLs (or [conda] channels in dockyard.toml) and "
                 "the network",
        ) from None
    except SolverError as exc:
        raise _solver_error(str(exc), request) from None
    return tuple(sorted((_locked(r) for r in records), key=lambda p: p.name))


_BUILD_CHARS = re.compile(r"[^A-Za-z0-9_*]")


def strict_spec(spec: str) -> str:
    """`spec` as rattler's solver parses it (strictly). Real builds such as defaults'
    `cudnn 8.2.1 cuda11.3_0` (a ClimSim `conda env export`) have characters the strict
    parser refuses in a build string: each becomes `*`, a glob that still matches it."""
    from rattler import MatchSpec

    try:
        MatchSpec(spec, strict=True)
        return spec
    except Exception:  # rattler's InvalidMatchSpecError
        pass
    channel, sep, rest = spec.rpartition("::")
    parts = rest.split(" ")
    if len(parts) == 3 and _BUILD_CHARS.search(parts[2]):
        parts[2] = _BUILD_CHARS.sub("*", parts[2])
        return f"{channel}{sep}{' '.join(parts)}"
    return spec


def _locked(record) -> LockedPackage:
    url = strip_credentials(str(record.url))
    return LockedPackage(
        name=record.name.normalized, version=str(record.version), owner="conda",
        source=strip_credentials(str(record.channel or "")).rstrip("/"), reason="",
        artifacts=(Artifact(url=url, sha256=record.sha256.hex() if record.sha256 else "",
                            filename=record.file_name),),
        build=str(record.build), subdir=record.subdir,
        depends=tuple(sorted({d.split()[0] for d in record.depends})),
    )


def _trim(text: str, lines: int = 15) -> str:
    kept = [redact(x.rstrip()) for x in text.splitlines() if x.strip()]
    return "\n".join(kept[:lines])


def _solver_error(text: str, request: Request) -> LockError:
    body = _trim(text)
    channels = ", ".join(channels_of(request.channels))
    for name, rest in re.findall(r"[Nn]o candidates were found for (\S+)\s*([^\n]*?)\.?$",
                                 text, re.MULTILINE):
        if rest.strip() in ("", "*"):
            return LockError(
                f"conda package {name!r} is not on the channels {channels}:\n{body}",
                where=request.where,
                hint="check the package name, or add the channel that has it",
            )
        return LockError(
            f"no version of {name} on the channels {channels} matches {rest.strip()!r}:\n{body}",
            where=request.where,
            hint=f"relax the spec on {name} (environment.yml, or the PyPI constraints on it "
                 "in pyproject.toml / dockyard.toml)",
        )
    return LockError(
        f"the conda requirements cannot be satisfied together:\n{body}",
        where=request.where,
        hint="relax the conflicting specs in environment.yml, or the PyPI constraints "
             "(pyproject.toml, dockyard.toml) that bind conda packages",
    )


# -- What each conda package installs on the Python side -------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base, "dockyard", "pkgs")


def fetch(artifact: Artifact, cache: Path | None = None) -> Path:
    """The artifact in the content-addressed cache, downloaded and sha256-checked if needed."""
    cache = cache or cache_dir()
    target = cache / artifact.sha256[:2] / f"{artifact.sha256}-{artifact.filename}"
    if target.exists():
        mark_used(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(artifact.url, timeout=60) as r:
            while chunk := r.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != artifact.sha256:
            raise LockError(
                f"{artifact.filename}: sha256 {h.hexdigest()} does not match the channel's "
                f"{artifact.sha256}",
                where=redact(artifact.url), hint="the channel's index is stale or tampered with",
            )
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


_DIST = re.compile(r"(?:^|/)site-packages/([^/]+)\.(?:dist-info|egg-info)(?:/|$)")
_METADATA = re.compile(r"site-packages/[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO)$")


def dist_names(paths: Iterable[str]) -> tuple[str, ...]:
    """Canonical PyPI names from `<name>-<version>.dist-info/` entries in a package's paths."""
    out = set()
    for p in paths:
        m = _DIST.search(p)
        if m:
            out.add(canonicalize_name(m.group(1).split("-")[0]))
    return tuple(sorted(out))


def metadata_name(text: str) -> str | None:
    """The `Name:` header of a METADATA / PKG-INFO file, canonicalized."""
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        if line.lower().startswith("name:"):
            return canonicalize_name(line.split(":", 1)[1].strip())
    return None


def is_python_package(pkg: LockedPackage) -> bool:
    """Only packages that depend on python can install a distribution into site-packages."""
    return "python" in pkg.depends and pkg.name != "python"


async def _installed_dists(archive: Path) -> tuple[str, ...]:
    """What the archive installs into site-packages: METADATA names, else dist-info names."""
    from rattler.package_streaming import PackageArchive

    pkg = await PackageArchive.from_path(archive)
    paths = [str(e.relative_path) for e in (await pkg.paths_json()).paths]
    wanted = [p for p in paths if _METADATA.search(p)]
    names = set()
    if wanted:
        for content in (await pkg.read_files(wanted)).values():
            if content is None:
                continue
            name = metadata_name(bytes(content).decode("utf-8", "replace"))
            if name:
                names.add(name)
    return tuple(sorted(names)) if names else dist_names(paths)


def distributions(
    pkgs: Sequence[LockedPackage],
    *,
    cache: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[tuple[LockedPackage, ...], tuple[Note, ...]]:
    """Fill `provides` from each package's own files; fall back to its name, with a note."""
    python_pkgs = [p for p in pkgs if is_python_package(p)]
    if on_line and python_pkgs:
        on_line(f"reading what {len(python_pkgs)} conda packages install")

    def download(pkg: LockedPackage) -> Path | Exception:
        try:
            return fetch(pkg.artifacts[0], cache)
        except (OSError, LockError, ValueError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        archives = dict(zip((p.name for p in python_pkgs), pool.map(download, python_pkgs),
                            strict=True))

    async def read_all() -> list[tuple[str, ...] | BaseException]:
        async def one(item: Path | Exception) -> tuple[str, ...]:
            if isinstance(item, Exception):
                raise item
            return await _installed_dists(item)

        return await asyncio.gather(*(one(a) for a in archives.values()), return_exceptions=True)

    found = dict(zip(archives, aio.run(read_all()), strict=True)) if archives else {}
    out, notes = [], []
    for pkg in pkgs:
        result = found.get(pkg.name)
        if result is None:
            out.append(pkg)
        elif isinstance(result, BaseException):
            name = canonicalize_name(pkg.name)
            notes.append(Note(pkg.name, f"could not read what {pkg.name} installs "
                                        f"({redact(str(result))[:160]}); assumed it provides "
                                        f"the PyPI distribution {name} (name equality)"))
            out.append(replace(pkg, provides=(name,)))
        else:
            out.append(replace(pkg, provides=result))
    return tuple(out), tuple(notes)

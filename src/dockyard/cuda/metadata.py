"""Wheel metadata for the few GPU packages: which runtime each wheel pins.

The review needs the `Requires-Dist` lines of torch, torchvision, cupy...
(`torch 2.6.0 requires nvidia-cuda-runtime-cu12==12.4.127`), not the wheels.
`fetch_wheel_metadata(url)` reads them without downloading a wheel:

1. the PEP 658 file `<wheel-url>.metadata` (a few KiB);
2. when the index has none, HTTP range requests on the wheel: its zip
   central directory (the last KiB), then the compressed METADATA member.

Nothing here is called at import time; the review takes a `MetadataFetcher`
(any `Callable[[LockedPackage], str | None]`), so unit tests pass recorded
strings through `recorded_metadata`.
"""

from __future__ import annotations

import email.parser
import logging
import struct
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from ..lock.model import LockedPackage, Target
from ..redact import redact

log = logging.getLogger(__name__)

MetadataFetcher = Callable[[LockedPackage], "str | None"]
HttpGet = Callable[[str, "tuple[int, int] | None"], "tuple[bytes, int] | None"]
"""`get(url, (start, end) or None) -> (body, total size) or None` when not found."""

_TAIL = 64 * 1024  # enough for the central directory of a wheel with a few thousand files


@dataclass(frozen=True, slots=True)
class WheelMetadata:
    name: str
    version: str
    requires: tuple[Requirement, ...]

    def requirement(self, name: str) -> Requirement | None:
        for req in self.requires:
            if _canon(req.name) == _canon(name) and not _extra_only(req):
                return req
        return None


def parse_metadata(text: str) -> WheelMetadata:
    """Core metadata (METADATA / PKG-INFO) -> name, version, requirements (bad lines skipped)."""
    msg = email.parser.Parser().parsestr(text, headersonly=True)
    reqs = []
    for line in msg.get_all("Requires-Dist") or ():
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement:
            log.debug("skipping unparsable Requires-Dist %r", line)
    return WheelMetadata(_canon(msg.get("Name", "")), msg.get("Version", ""), tuple(reqs))


def _canon(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_only(req: Requirement) -> bool:
    return req.marker is not None and "extra" in str(req.marker)


def applies_on_linux(req: Requirement, python: str = "3.12", machine: str = "x86_64") -> bool:
    """Whether a Requires-Dist applies on the target (linux, machine, python), no extras."""
    if req.marker is None:
        return True
    env = {
        "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix",
        "platform_machine": machine, "python_version": python or "3.12",
        "python_full_version": (python or "3.12") + ".0", "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "extra": "",
    }
    try:
        return bool(req.marker.evaluate(env))
    except Exception:  # an unknown marker variable: count it, better loud than silent
        return True


_MACHINE = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}


def applies_to(req: Requirement, target: Target) -> bool:
    """`applies_on_linux` for a lock's target (its python and platform)."""
    python = ".".join(target.python.split(".")[:2]) if target.python else "3.12"
    return applies_on_linux(req, python, _MACHINE.get(target.platform, "x86_64"))


def recorded_metadata(texts: Mapping[tuple[str, str], str]) -> MetadataFetcher:
    """A fetcher answering from `{(name, version): METADATA text}` (tests, caches)."""

    def fetch(pkg: LockedPackage) -> str | None:
        return texts.get((pkg.name, pkg.version))

    return fetch


def wheel_url(pkg: LockedPackage) -> str | None:
    for art in pkg.artifacts:
        name = art.filename or art.url.rsplit("/", 1)[-1].split("#", 1)[0]
        if name.endswith(".whl"):
            return art.url.split("#", 1)[0]
    return None


def pypi_metadata(get: HttpGet | None = None) -> MetadataFetcher:
    """The real fetcher: PEP 658 then range requests, memoized per wheel URL."""
    cache: dict[str, str | None] = {}
    get = get or urllib_get

    def fetch(pkg: LockedPackage) -> str | None:
        url = wheel_url(pkg)
        if url is None or url.startswith("file:"):
            return _local_metadata(url[len("file://"):]) if url else None
        if url not in cache:
            try:
                cache[url] = fetch_wheel_metadata(url, get)
            except OSError as exc:  # offline, proxy trouble: the review falls back to its table
                log.warning("cannot read the metadata of %s: %s", redact(url), exc)
                cache[url] = None
        return cache[url]

    return fetch


def fetch_wheel_metadata(url: str, get: HttpGet) -> str | None:
    found = get(url + ".metadata", None)
    if found is not None:
        return found[0].decode("utf-8", "replace")
    log.debug("no PEP 658 metadata for %s; reading the wheel's METADATA by range", redact(url))
    return _metadata_by_range(url, get)


def _metadata_by_range(url: str, get: HttpGet) -> str | None:
    head = get(url, (0, 0))
    if head is None:
        return None
    total = head[1]
    start = max(0, total - _TAIL)
    found = get(url, (start, total - 1))
    if found is None:
        return None
    directory = _central_directory(found[0], start)
    if directory is None:
        return None
    cd_offset, cd_size = directory
    if cd_offset >= start:
        cd = found[0][cd_offset - start : cd_offset - start + cd_size]
    else:  # torch's directory is ~2 MiB (tens of thousands of files): read just it
        more = get(url, (cd_offset, cd_offset + cd_size - 1))
        if more is None:
            return None
        cd = more[0]
    member = _find_metadata_member(cd)
    if member is None:
        return None
    offset, csize, method = member
    local = get(url, (offset, offset + 30 + 1024 + csize))
    if local is None:
        return None
    return _read_local(local[0], csize, method)


def _central_directory(tail: bytes, tail_start: int) -> tuple[int, int] | None:
    """(offset, size) of the zip central directory, from the end of the file (zip64 too)."""
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0:
        return None
    cd_size, cd_offset = struct.unpack("<II", tail[eocd + 12 : eocd + 20])
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        loc = tail.rfind(b"PK\x06\x07", 0, eocd)
        if loc < 0:
            return None
        z64, = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        rec = z64 - tail_start
        if rec < 0 or tail[rec : rec + 4] != b"PK\x06\x06":
            return None
        cd_size, cd_offset = struct.unpack("<QQ", tail[rec + 40 : rec + 56])
    return cd_offset, cd_size


def _find_metadata_member(cd: bytes) -> tuple[int, int, int] | None:
    pos = 0
    while cd[pos : pos + 4] == b"PK\x01\x02":
        method, = struct.unpack("<H", cd[pos + 10 : pos + 12])
        csize, = struct.unpack("<I", cd[pos + 20 : pos + 24])
        nlen, elen, clen = struct.unpack("<HHH", cd[pos + 28 : pos + 34])
        local_off, = struct.unpack("<I", cd[pos + 42 : pos + 46])
        name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
            return local_off, csize, method
        pos += 46 + nlen + elen + clen
    return None


def _read_local(data: bytes, csize: int, method: int) -> str | None:
    if data[:4] != b"PK\x03\x04":
        return None
    nlen, elen = struct.unpack("<HH", data[26:30])
    body = data[30 + nlen + elen : 30 + nlen + elen + csize]
    if method == 8:
        body = zlib.decompress(body, -15)
    elif method != 0:
        return None
    return body.decode("utf-8", "replace")


def _local_metadata(path: str) -> str | None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                    return zf.read(name).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def urllib_get(url: str, byte_range: tuple[int, int] | None) -> tuple[bytes, int] | None:
    """GET (optionally a byte range) -> (body, total size); None on 404/410."""
    req = urllib.request.Request(url, headers={"User-Agent": "dockyard"})
    if byte_range is not None:
        req.add_header("Range", f"bytes={byte_range[0]}-{byte_range[1]}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            if byte_range is not None and resp.status != 206:
                # the server ignores ranges: never stream a whole (GiB) wheel for its METADATA
                log.warning("%s: no range support; not reading its METADATA", redact(url))
                return None
            body = resp.read()
            total = len(body)
            crange = resp.headers.get("Content-Range", "")
            if "/" in crange:
                total = int(crange.rsplit("/", 1)[1])
            return body, total
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return None
        raise


__all__ = [
    "MetadataFetcher", "WheelMetadata", "applies_on_linux", "applies_to", "fetch_wheel_metadata",
    "parse_metadata", "pypi_metadata", "recorded_metadata", "urllib_get", "wheel_url",
]

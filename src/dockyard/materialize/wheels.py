"""Wheels for a target that is not this machine: pick one by tags, install it for a prefix.

`pick_wheel(artifacts, python, glibc)` chooses among the lock's artifacts of
a package the wheel uv would pick on the target (CPython X.Y, manylinux up to
the target's glibc, x86_64); `install_wheel(path, scheme, interpreter, root)`
installs it with pypa/installer as if into the image: `scheme` holds the
paths in the image, files land under `root` (installer's destdir), scripts
get the image's interpreter in their shebang. Nothing is compiled
(no bytecode), RECORD lists its rows sorted, INSTALLER says dockyard, and a
launcher is written the way uv writes one, so an environment made here reads
like one uv made in the image.
"""

from __future__ import annotations

import csv
import functools
import io
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError
from ..lock.model import Artifact

INSTALLER_NAME = b"dockyard\n"


def platform_tags(glibc: str, arch: str = "x86_64") -> list[str]:
    """manylinux platform tags a target with this glibc accepts, best first."""
    m = re.match(r"2\.(\d+)", glibc or "")
    top = int(m.group(1)) if m else 17
    tags: list[str] = []
    for minor in range(top, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
        if legacy:
            tags.append(f"{legacy}_{arch}")
    tags.append(f"linux_{arch}")
    return tags


def supported_tags(python: str, glibc: str) -> list[str]:
    """Wheel tags of CPython `python` ("3.12") on linux x86_64, in uv's order of preference."""
    return list(_tag_rank(python, glibc))


@functools.lru_cache(maxsize=16)
def _tag_rank(python: str, glibc: str) -> dict[str, int]:
    """Each supported tag's rank (0 best), made once per target: made for each package
    (~1,000 tags, 210 packages in the founding case) it was 0.5 s of a code-only rebuild."""
    from packaging import tags

    version = tuple(int(x) for x in python.split(".")[:2])
    plats = platform_tags(glibc)
    interp = f"cp{version[0]}{version[1]}"
    found = [*tags.cpython_tags(version, platforms=plats),
             *tags.compatible_tags(version, interp, plats)]
    rank: dict[str, int] = {}
    for tag in map(str, found):
        rank.setdefault(tag, len(rank))
    return rank


def _wheel_tags(filename: str) -> set[str]:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        return {str(t) for t in parse_wheel_filename(filename)[3]}
    except InvalidWheelFilename:
        return set()


def filename_of(artifact: Artifact) -> str:
    return artifact.filename or artifact.url.rsplit("/", 1)[-1].split("#", 1)[0]


def pick_wheel(name: str, artifacts: Sequence[Artifact], python: str,
               glibc: str) -> Artifact | None:
    """The best wheel for the target among `artifacts`, or None (then: its sdist)."""
    rank = _tag_rank(python, glibc)
    best: tuple[int, str, Artifact] | None = None
    for a in artifacts:
        fname = filename_of(a)
        if not fname.endswith(".whl"):
            continue
        scores = [rank[t] for t in _wheel_tags(fname) if t in rank]
        if scores and (best is None or (min(scores), fname) < best[:2]):
            best = (min(scores), fname, a)
    return best[2] if best else None


def pick_sdist(artifacts: Sequence[Artifact]) -> Artifact | None:
    for a in sorted(artifacts, key=filename_of):
        if filename_of(a).endswith((".tar.gz", ".zip", ".tar.bz2")):
            return a
    return None


@dataclass(frozen=True, slots=True)
class Scheme:
    """Where a wheel's parts go, as paths in the image."""

    purelib: str
    platlib: str
    scripts: str
    data: str
    headers: str

    def as_dict(self) -> dict[str, str]:
        return {"purelib": self.purelib, "platlib": self.platlib, "scripts": self.scripts,
                "data": self.data, "headers": self.headers}


def prefix_scheme(prefix: str, python_minor: str, name: str) -> Scheme:
    """A venv or conda prefix: site-packages under lib/pythonX.Y, scripts in bin/."""
    site = f"{prefix}/lib/python{python_minor}/site-packages"
    return Scheme(site, site, f"{prefix}/bin", prefix,
                  f"{prefix}/include/site/python{python_minor}/{name}")


def target_scheme(target: str, name: str) -> Scheme:
    """`uv pip install --target DIR`: packages at the top, scripts in DIR/bin."""
    return Scheme(target, target, f"{target}/bin", target, f"{target}/include/{name}")


_LAUNCHER = """\
# -*- coding: utf-8 -*-
import sys
from {module} import {import_name}
if __name__ == "__main__":
    if sys.argv[0].endswith("-script.pyw"):
        sys.argv[0] = sys.argv[0][:-11]
    elif sys.argv[0].endswith(".exe"):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit({call}())
"""


def shebang(interpreter: str) -> str:
    """`#!PYTHON`, or the /bin/sh trampoline where the kernel would not take it."""
    if len(interpreter) + 3 > 127 or " " in interpreter:
        return f"#!/bin/sh\n'''exec' '{interpreter}' \"$0\" \"$@\"\n' '''"
    return f"#!{interpreter}"


def _destination(scheme: Scheme, interpreter: str, root: Path):
    from installer.destinations import SchemeDictionaryDestination

    class Destination(SchemeDictionaryDestination):
        def write_script(self, name, module, attr, section):  # noqa: ARG002 (gui = console)
            text = shebang(self.interpreter) + "\n" + _LAUNCHER.format(
                module=module, import_name=attr.split(".")[0], call=attr)
            return self.write_to_fs("scripts", name, io.BytesIO(text.encode()), True)

        def write_to_fs(self, scheme, path, stream, is_executable):
            is_executable = is_executable or scheme == "scripts"  # as uv: scripts run
            entry = super().write_to_fs(scheme, path, stream, is_executable)
            target = self._path_with_destdir(scheme, path)
            target.chmod(0o755 if is_executable else 0o644)
            return entry

        def finalize_installation(self, scheme, record_file_path, records):
            def prefix_for(file_scheme):
                if file_scheme == scheme:
                    return None
                return posixpath.relpath(self.scheme_dict[file_scheme],
                                         self.scheme_dict[scheme]) + "/"

            # installer sorts by the path inside each scheme; uv by the path as written
            rows = sorted(r.to_row(prefix_for(s)) for s, r in records)
            text = io.StringIO(newline="")
            csv.writer(text, delimiter=",", quotechar='"', lineterminator="\n").writerows(rows)
            self.write_to_fs(scheme, record_file_path, io.BytesIO(text.getvalue().encode()),
                             False)

    return Destination(scheme.as_dict(), interpreter=interpreter, script_kind="posix",
                       destdir=str(root), overwrite_existing=True)


def install_wheel(wheel: Path, scheme: Scheme, interpreter: str, root: Path, *,
                  checked: bool = False) -> str:
    """Install `wheel` for the image: paths in `scheme`, files under `root`; its name.

    `checked`: the wheel's own sha256 was checked against the lock, so RECORD is checked
    for its list of files only, not by decompressing and hashing every file once more
    before installing (for the founding case's 6.5 GB: once more through every byte)."""
    from installer import install
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    try:
        with WheelFile.open(wheel) as source:
            source.validate_record(validate_contents=not checked)
            install(source, _destination(scheme, interpreter, root),
                    {"INSTALLER": INSTALLER_NAME, "REQUESTED": b""})
            return source.distribution
    except (InstallerError, ValueError, OSError) as exc:
        raise BuildError(f"installing {wheel.name} failed: {exc}",
                         hint="the wheel may be damaged: clear ~/.cache/dockyard/artifacts "
                         "and build again") from None


def installed_names(root: Path, site: str) -> Iterable[str]:
    path = root / site.lstrip("/")
    return sorted(p.name for p in path.glob("*.dist-info")) if path.is_dir() else []


__all__ = ["Scheme", "install_wheel", "pick_sdist", "pick_wheel", "platform_tags",
           "prefix_scheme", "shebang", "supported_tags", "target_scheme"]

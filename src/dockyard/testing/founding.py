"""The founding case (shared/cases/dctools-seed), ready to lock *and build* on this machine.

conda channels are unreachable here, so the case's conda side comes from a stand-in
channel made locally, whose packages install for real:

- `python 3.12.1`: this machine's CPython build (pyenv), relocatable, as the bundled
  example's (`example.relocate_cpython`); the case pins 3.12.11, which is not on this
  machine: the copy of the case asks for 3.12.1 and says so;
- `numpy 1.26.4`: PyPI's manylinux wheel for CPython 3.12, repackaged as a conda package
  (its files, its dist-info with RECORD, INSTALLER `conda`), as conda-forge's provides
  numpy to the PyPI side;
- `xarray 2025.9.0`: PyPI's wheel, repackaged the same way (pure Python);
- `libesmf 8.6.1`: a stand-in of ESMF's library (compiled here), whose conda activation
  script sets ESMFMKFILE, as esmf's does;
- `esmpy 8.6.1`: a stand-in of the binding that, like esmpy, refuses to import without
  ESMFMKFILE and loads libesmf; its dist-info has METADATA and INSTALLER but no RECORD,
  as conda-forge's esmpy ships it (a conda record owns it: not a second install);
- `xesmf 0.8.10`: a stand-in importing esmpy and xarray, with a complete dist-info;
- `poetry`: the environment tool the case lists (dockyard leaves it out).

The GitHub dependencies (xrpatcher, xESMF) are local bare repositories reached through
git's url.insteadOf (`channel.github_standins`). `founding_case_buildable(dest)` returns a
`FoundingCase` whose project locks against all of it; with `cuda_fix=True` its copy of
pyproject.toml takes the CUDA 12.6 fix dockyard's lock proposes (torchvision 0.22, the
release for torch 2.7, whose PyPI wheels bring CUDA 12.6).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from . import machine_lock
from .channel import (
    EPOCH,
    FOUNDING_CASE,
    SITE_PACKAGES,
    CondaPackage,
    FoundingCase,
    build_channel,
    github_standins,
    metadata,
)
from .example import PYTHON_VERSION, find_cpython, legacy_package, relocate_cpython

PYPI_SIMPLE = "https://pypi.org/simple"
NUMPY, XARRAY, ESMF, XESMF = "1.26.4", "2025.9.0", "8.6.1", "0.8.10"
PY = "python >=3.12,<3.13.0a0"

_LIBESMF_C = """\
/* A stand-in for ESMF's library: its name, none of its code. */
const char *ESMF_Version(void) { return "8.6.1"; }
"""
_ESMF_ACTIVATE = 'export ESMFMKFILE="${CONDA_PREFIX}/lib/esmf.mk"\n'
_ESMF_DEACTIVATE = "unset ESMFMKFILE\n"
_ESMPY_INIT = '''\
"""esmpy stand-in: like esmpy, it needs ESMFMKFILE (set by esmf's activation script)."""
import ctypes
import os

_mk = os.environ.get("ESMFMKFILE")
if not _mk or not os.path.isfile(_mk):
    raise ImportError("The ESMFMKFILE environment variable is not available.")
_lib = ctypes.CDLL(os.path.join(os.path.dirname(_mk), "libesmf.so"))
_lib.ESMF_Version.restype = ctypes.c_char_p
__version__ = _lib.ESMF_Version().decode()

import numpy  # noqa: E402,F401  (esmpy needs it)
'''
_XESMF_INIT = '''\
"""xesmf stand-in: imports what xesmf imports."""
import esmpy  # noqa: F401
import numpy  # noqa: F401
import xarray  # noqa: F401

__version__ = "0.8.10"
'''


def pypi_wheel(name: str, version: str, python: str = "3.12", glibc: str = "2.28") -> Path:
    """PyPI's best wheel of `name==version` for CPython `python` on linux x86_64, fetched
    (sha256-checked against the index, cached) with dockyard's own fetch."""
    from ..lock.model import Artifact
    from ..materialize.wheels import pick_wheel
    from ..render.stage import fetch

    ctx = ssl.create_default_context()
    if os.environ.get("SSL_CERT_FILE"):
        ctx.load_verify_locations(os.environ["SSL_CERT_FILE"])
    req = urllib.request.Request(f"{PYPI_SIMPLE}/{name}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60, context=ctx) as resp:
        files = json.load(resp)["files"]
    stem = f"{name.replace('-', '_')}-{version}-"
    artifacts = [Artifact(f["url"], f["hashes"]["sha256"], f["filename"]) for f in files
                 if f["filename"].startswith(stem) and "sha256" in f.get("hashes", {})]
    chosen = pick_wheel(name, artifacts, python, glibc)
    if chosen is None:
        raise RuntimeError(f"no wheel of {name} {version} for CPython {python} on PyPI")
    return fetch(chosen.url, chosen.sha256, f"{name} {version}")


def _wheel_stage(wheel: Path, stage: Path) -> None:
    """The wheel's files under the stage's site-packages, marked as installed by conda."""
    site = stage / SITE_PACKAGES
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    for info in site.glob("*.dist-info"):
        (info / "INSTALLER").write_text("conda\n")
        (info / "REQUESTED").unlink(missing_ok=True)


def _assemble(stage: Path, channel: Path, name: str, version: str, build: str,
              depends: list[str], subdir: str = "linux-64") -> None:
    from rattler_build import assemble_package

    out = channel / subdir
    out.mkdir(parents=True, exist_ok=True)
    assemble_package(name=name, version=version, build_string=build, target_platform=subdir,
                     output_dir=str(out), files_dir=str(stage), depends=depends,
                     noarch="generic" if subdir == "noarch" else None, timestamp=EPOCH,
                     compression_level=1, detect_prefix=False)


def _write(stage: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = stage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _esmf(tmp: Path, channel: Path) -> None:
    lib = tmp / "libesmf"
    (lib / "lib").mkdir(parents=True)
    src = tmp / "esmf.c"
    src.write_text(_LIBESMF_C)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-Wl,-soname,libesmf.so",
                    "-o", str(lib / "lib" / "libesmf.so"), str(src)], check=True,
                   capture_output=True, text=True)
    _write(lib, {"lib/esmf.mk": "# ESMF build information (stand-in)\nESMF_VERSION_STRING=8.6.1\n",
                 "etc/conda/activate.d/esmf-activate.sh": _ESMF_ACTIVATE,
                 "etc/conda/deactivate.d/esmf-deactivate.sh": _ESMF_DEACTIVATE})
    _assemble(lib, channel, "libesmf", ESMF, "nompi_h0_0", ["__glibc >=2.17"])

    esmpy = tmp / "esmpy"
    info = f"{SITE_PACKAGES}/esmpy-{ESMF}.dist-info"
    _write(esmpy, {  # no RECORD: conda-forge's esmpy ships its dist-info so
        f"{SITE_PACKAGES}/esmpy/__init__.py": _ESMPY_INIT,
        f"{info}/METADATA": metadata("esmpy", ESMF) + "Requires-Dist: numpy\n",
        f"{info}/INSTALLER": "conda\n",
    })
    _assemble(esmpy, channel, "esmpy", ESMF, "nompi_py312_0",
              [PY, f"libesmf {ESMF}.*", "numpy >=1.19"])

    xesmf = tmp / "xesmf"
    info = f"xesmf-{XESMF}.dist-info"
    files = {"xesmf/__init__.py": _XESMF_INIT,
             f"{info}/METADATA": metadata("xesmf", XESMF)
             + "Requires-Dist: esmpy\nRequires-Dist: numpy\nRequires-Dist: xarray\n",
             f"{info}/INSTALLER": "conda\n"}
    files[f"{info}/RECORD"] = "".join(f"{p},,\n" for p in sorted(files)) + f"{info}/RECORD,,\n"
    _write(xesmf, {f"{SITE_PACKAGES}/{p}": t for p, t in files.items()})
    _assemble(xesmf, channel, "xesmf", XESMF, "pyhd8ed1ab_0",
              ["python >=3.9", "esmpy >=8.0", "numpy >=1.16", "xarray >=0.16.2"], "noarch")


def build_founding_channel(channel: Path) -> str:
    """The stand-in channel whose packages install for real (see the module docstring)."""
    python = find_cpython()
    channel.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dockyard-founding-") as name:
        tmp = Path(name)
        relocate_cpython(python, tmp / "python")
        legacy_package(tmp / "python", channel / "linux-64", "python", PYTHON_VERSION,
                       "h0_dockyard", ["__glibc >=2.17"])
        _wheel_stage(pypi_wheel("numpy", NUMPY), tmp / "numpy")
        _assemble(tmp / "numpy", channel, "numpy", NUMPY, "py312_0", [PY])
        _wheel_stage(pypi_wheel("xarray", XARRAY), tmp / "xarray")
        _assemble(tmp / "xarray", channel, "xarray", XARRAY, "pyhd8ed1ab_0",
                  ["python >=3.10", "numpy >=1.24"], "noarch")
        _esmf(tmp, channel)
    return build_channel(channel, [CondaPackage("poetry", "2.1.3", "pyh_0", subdir="noarch",
                                                depends=("python >=3.9",), dist="poetry")])


def founding_case_buildable(dest: Path, case: Path = FOUNDING_CASE, cuda: str = "12.6",
                            cuda_fix: bool = False) -> FoundingCase:
    """The founding case in `dest` (made once: reused when already there), locking and
    building against the stand-in channel and git repositories above."""
    dest = Path(dest).resolve()
    project = dest / "dctools"
    stamp = dest / ".founding-case"
    key = json.dumps([2, str(find_cpython()), cuda, cuda_fix, NUMPY, XARRAY, ESMF, XESMF])
    with machine_lock(dest.parent / f".{dest.name}.lock"):
        if stamp.is_file() and json.loads(stamp.read_text())["key"] == key:
            info = json.loads(stamp.read_text())
            return FoundingCase(project, info["channel"], Path(info["gitconfig"]),
                                info["commits"])
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        channel = build_founding_channel(dest / "channel")
        gitconfig, commits = github_standins(dest / "github")
        project.mkdir()
        for name in ("pyproject.toml", "environment.yml"):
            shutil.copyfile(case / name, project / name)
        # the seed has the project's dependency files only: a package to build (its
        # pyproject names a README and a `dctools` package by its name)
        (project / "README.md").write_text("# dctools (dockyard's stand-in of the source)\n")
        (project / "dctools").mkdir()
        (project / "dctools" / "__init__.py").write_text(
            '"""dctools stand-in: the code a code-only change edits."""\n\nVERSION = "0.0.1"\n')
        env = project / "environment.yml"
        # `python(">=3.11.0,<3.14.0")` is not a match spec (the readers' bad-input case),
        # and 3.12.11 is not on this machine: the copy says what was meant, with the Python
        # this machine has
        env.write_text(env.read_text()
                       .replace('python(">=3.11.0,<3.14.0")', "python >=3.11.0,<3.14.0")
                       .replace("python=3.12.11", f"python={PYTHON_VERSION}")
                       + "# dockyard stand-in: python 3.12.11 is not on this machine\n")
        settings = (f'[target]\nglibc = "2.28"\ncuda = "{cuda}"\n\n'
                    f'[conda]\nchannels = ["{channel}"]\n')
        if cuda_fix:
            pyproject = project / "pyproject.toml"
            pyproject.write_text(pyproject.read_text().replace(
                '"torchvision (>=0.21.0,<0.22.0)"', '"torchvision (>=0.22.0,<0.23.0)"'))
            settings += '\n[install]\nconstraints = ["torch>=2.7,<2.8"]\n'
        (project / "dockyard.toml").write_text(settings)
        stamp.write_text(json.dumps({"key": key, "channel": channel, "gitconfig": str(gitconfig),
                                     "commits": commits}))
    return FoundingCase(project, channel, gitconfig, commits)


__all__ = ["build_founding_channel", "founding_case_buildable", "pypi_wheel"]

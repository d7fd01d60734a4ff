"""A real local conda channel, built in milliseconds, for tests and the bundled example.

    pkgs = [CondaPackage("numpy", "1.26.4", depends=("python >=3.12,<3.13",),
                         dist="numpy")]
    url = build_channel(tmp_path / "channel", pkgs)      # file://...
    with serve_channel(tmp_path / "channel") as http_url:  # http://127.0.0.1:PORT
        ...

Packages are assembled with `rattler_build.assemble_package` (real .conda
archives with info/index.json and info/paths.json) and indexed with
`rattler.index.index_fs`. A package given `dist=` installs a
`site-packages/<dist>-<version>.dist-info/METADATA`, which is how dockyard
learns the PyPI name of what a conda package installs.

`founding_case(dest)` sets up the founding case to lock on this machine: the
stand-in channel, local bare git repos for its GitHub dependencies (reached
through git's url.insteadOf, see `github_standins`) and a copy of the case
with a dockyard.toml pointing at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import http.server
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import aio

SITE_PACKAGES = "lib/python3.12/site-packages"
# A fixed timestamp: the same definitions give the same archives and the same index.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class CondaPackage:
    name: str
    version: str
    build: str = "0"
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    subdir: str = "linux-64"  # or "noarch"
    dist: str | None = None  # PyPI distribution name it installs (a dist-info)
    files: Mapping[str, str] = field(default_factory=dict)  # extra files: path -> text
    site_packages: str = SITE_PACKAGES


def metadata(dist: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"


def _files_of(pkg: CondaPackage) -> dict[str, str]:
    files = dict(pkg.files)
    if pkg.dist:
        info = f"{pkg.site_packages}/{pkg.dist.replace('-', '_')}-{pkg.version}.dist-info"
        files[f"{info}/METADATA"] = metadata(pkg.dist, pkg.version)
        files[f"{info}/INSTALLER"] = "conda\n"
        module = pkg.dist.replace("-", "_").lower()
        files.setdefault(f"{pkg.site_packages}/{module}/__init__.py",
                         f'__version__ = "{pkg.version}"\n')
    if not files:  # rattler-build wants at least one file
        files[f"share/dockyard-test/{pkg.name}"] = f"{pkg.name} {pkg.version}\n"
    return files


def assemble(pkg: CondaPackage, channel_dir: Path) -> Path:
    """One .conda archive in `channel_dir/<subdir>/`."""
    from rattler_build import assemble_package

    out = channel_dir / pkg.subdir
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dockyard-pkg-") as tmp:
        for rel, text in _files_of(pkg).items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        result = assemble_package(
            name=pkg.name, version=pkg.version, build_string=pkg.build,
            target_platform=pkg.subdir, output_dir=str(out), files_dir=tmp,
            depends=list(pkg.depends), constrains=list(pkg.constrains),
            noarch="generic" if pkg.subdir == "noarch" else None,
            timestamp=EPOCH, compression_level=1, detect_prefix=False,
        )
    return Path(result.path)


def build_channel(channel_dir: Path, packages: Sequence[CondaPackage],
                  subdirs: Sequence[str] = ("linux-64",)) -> str:
    """Assemble and index `packages` into `channel_dir`; returns its file:// URL."""
    from rattler.index import index_fs

    channel_dir = Path(channel_dir).resolve()
    for pkg in packages:
        assemble(pkg, channel_dir)
    for subdir in {*subdirs, "noarch"}:
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
    coro = index_fs(channel_dir, target_platform=None, write_zst=False, write_shards=False)
    if asyncio.iscoroutine(coro):
        aio.run(coro)
    return channel_dir.as_uri()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@contextlib.contextmanager
def serve_channel(channel_dir: Path) -> Iterator[str]:
    """Serve `channel_dir` over HTTP on 127.0.0.1 (a free port) in a thread."""
    handler = functools.partial(_QuietHandler, directory=str(channel_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def founding_case_packages(python: str = "3.12.11") -> list[CondaPackage]:
    """Stand-ins for the conda side of the founding case (metadata only).

    python (no files that matter), esmpy with its native library, xesmf,
    numpy 1.26.4 and 2.1.0, xarray, and poetry (a tool).
    """
    py = "python >=3.12,<3.13.0a0"
    return [
        CondaPackage("python", python, "h_cpython_0", depends=("libzlib >=1.3",)),
        CondaPackage("libzlib", "1.3.1", "h0"),
        CondaPackage("libesmf", "8.6.1", "h_nompi_0", depends=("libzlib >=1.3",)),
        CondaPackage("esmpy", "8.6.1", "py312_nompi_0",
                     depends=(py, "libesmf 8.6.1.*", "numpy >=1.19"), dist="esmpy"),
        CondaPackage("numpy", "1.26.4", "py312_0", depends=(py,), dist="numpy"),
        CondaPackage("numpy", "2.1.0", "py312_0", depends=(py,), dist="numpy"),
        CondaPackage("xarray", "2025.9.0", "pyhd8ed1ab_0", subdir="noarch",
                     depends=("python >=3.10", "numpy >=1.24"), dist="xarray"),
        CondaPackage("xesmf", "0.8.10", "pyhd8ed1ab_0", subdir="noarch",
                     depends=("python >=3.9", "esmpy >=8.0", "numpy >=1.16", "xarray >=0.16.2"),
                     dist="xesmf"),
        CondaPackage("poetry", "2.1.3", "pyh_0", subdir="noarch",
                     depends=("python >=3.9",), dist="poetry"),
    ]


# -- The founding case, ready to lock on this machine (tests and bench) -----------------

# ../shared from the repository's root (the brief: no absolute path of our machines)
FOUNDING_CASE = Path(__file__).resolve().parents[3].parent / "shared/cases/dctools-seed"
_GIT_ID = ("-c", "user.name=dockyard-tests", "-c", "user.email=tests@dockyard.invalid")


def git_package(bare: Path, name: str, deps: Sequence[str], branch: str = "main") -> str:
    """A tiny pyproject-based package in a bare git repo; returns its head commit."""
    import subprocess

    src = bare.parent / f".src-{bare.name}"
    pkg = src / name.replace("-", "_")
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f'"""{name} stand-in."""\n')
    dep_list = ", ".join(f'"{d}"' for d in deps)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{dep_list}]\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{pkg.name}"]\n'
    )

    def git(*args: str, cwd: Path = src) -> str:
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", branch)
    git("add", ".")
    git(*_GIT_ID, "commit", "-q", "-m", "init")
    commit = git("rev-parse", "HEAD")
    git("clone", "-q", "--bare", str(src), str(bare), cwd=bare.parent)
    return commit


@dataclass(frozen=True, slots=True)
class FoundingCase:
    project: Path  # a copy of the case, its environment.yml fixed, with a dockyard.toml
    channel: str  # file:// URL of the stand-in channel
    gitconfig: Path  # for GIT_CONFIG_GLOBAL: GitHub URLs -> local bare repos
    commits: Mapping[str, str]  # xrpatcher / xesmf -> head commit of the stand-in


def github_standins(dest: Path) -> tuple[Path, dict[str, str]]:
    """Bare repos for xrpatcher and xESMF, and a git config (url.insteadOf) pointing at them.

    GitHub is unreachable here; git's own URL rewriting stands in, so dockyard's
    code needs no special case. A token in the URL is rewritten too.
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "jejjohnson").mkdir(exist_ok=True)
    (dest / "pangeo-data").mkdir(exist_ok=True)
    commits = {
        "xrpatcher": git_package(dest / "jejjohnson" / "xrpatcher.git", "xrpatcher",
                                 ["numpy"], "main"),
        "xesmf": git_package(dest / "pangeo-data" / "xESMF.git", "xesmf",
                             ["numpy", "xarray"], "master"),
    }
    config = dest / "gitconfig"
    config.write_text(
        f'[url "{dest.as_uri()}/"]\n\tinsteadOf = https://github.com/\n'
        f"\tinsteadOf = https://x-access-token:s3cret@github.com/\n"
    )
    return config, commits


def founding_case(dest: Path, case: Path = FOUNDING_CASE, cuda: str = "12.6") -> FoundingCase:
    """The founding case in `dest`, locking against a stand-in channel and git repos."""
    import shutil

    dest = Path(dest)
    channel = build_channel(dest / "channel", founding_case_packages())
    gitconfig, commits = github_standins(dest / "github")
    project = dest / "dctools"
    project.mkdir()
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copyfile(case / name, project / name)
    env = project / "environment.yml"
    # The case's `python(">=3.11.0,<3.14.0")` is not a match spec (the readers' bad-input
    # case): the copy says what was meant.
    env.write_text(env.read_text().replace('python(">=3.11.0,<3.14.0")',
                                           "python >=3.11.0,<3.14.0"))
    (project / "dockyard.toml").write_text(
        f'[target]\nglibc = "2.28"\ncuda = "{cuda}"\n\n[conda]\nchannels = ["{channel}"]\n')
    return FoundingCase(project, channel, gitconfig, commits)

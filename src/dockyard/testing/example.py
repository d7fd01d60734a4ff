"""The bundled example (examples/minicase) made ready to lock and build on this machine.

`make_example(dest)` builds, once per content hash:
- `dest/channel/`: a real local conda channel with
  - `python 3.12.1`: the CPython build on this machine ($(pyenv root)/versions/3.12.*),
    relocatable (patchelf: RUNPATH `$ORIGIN/../lib`; text files that name its prefix
    carry conda's prefix placeholder, as conda-forge's do), without its test suite,
    caches or bundled pip; a .tar.bz2 package written here, since rattler-build's
    assembler records no placeholder;
  - `libtinygeo 1.0.0`: a C library compiled here with gcc, with a conda activation
    script that sets TINYGEO_DATA (as esmf sets ESMFMKFILE);
  - `tinygeo 1.0.0`: its CPython extension binding (a dist-info says it is PyPI's
    `tinygeo`), which, like esmpy, refuses to import without that variable;
  - `poetry`: the environment tool the example's environment.yml lists (dockyard drops it);
- `dest/git/xrpatch.git`: a bare repository with the example's git dependency, and
  `dest/gitconfig`, whose url.insteadOf maps the example's git URL to it
  (use it through GIT_CONFIG_GLOBAL: `example_env(dest)`);
- `dest/minicase/`: the project, with its dockyard.toml pointing at the channel.
Returns the project's path.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import machine_lock
from .channel import EPOCH, CondaPackage, build_channel

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
PROJECT = EXAMPLES / "minicase"
SOURCES = EXAMPLES / "minicase-sources"
GIT_URL = "https://git.example.org/dockyard-example/xrpatch.git"
PYTHON_VERSION = "3.12.1"
SITE = "lib/python3.12/site-packages"
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"  # conda's classic prefix placeholder

# What the conda `python` package leaves out of the CPython build: tests, IDLE, tkinter,
# the static library, bytecode caches and the pip that pyenv installed.
_DROP_DIRS = ("test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip",
              "config-3.12-x86_64-linux-gnu", "site-packages", "__pycache__", "unittest/test")
_KEEP_BIN = ("python", "python3", "python3.12")


def _run(*args: str, cwd: str | Path | None = None, env: dict | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def find_cpython(version: str = PYTHON_VERSION) -> Path:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for cand in [Path(root, "versions", version), *map(Path, sorted(glob.glob(
            f"{root}/versions/{version.rsplit('.', 1)[0]}.*")))]:
        if (cand / "bin" / "python3.12").exists():
            return cand
    raise RuntimeError(f"no CPython {version} under {root}/versions (built --enable-shared)")


def relocate_cpython(src: Path, stage: Path, *, prefix: str = PLACEHOLDER,
                     keep_pip: bool = False) -> None:
    """Copy the CPython build at `src` into `stage`, made to live at `prefix`.

    ELF RUNPATHs become `$ORIGIN/../lib` (interpreters) or go (extension modules), and
    text files that name `src` name `prefix` instead (conda's placeholder by default,
    which a conda installer rewrites). The test suite, IDLE, tkinter, caches and the
    static library are left out, and site-packages too (but pip with `keep_pip`): what
    this machine added there (a .pth of its own) must never reach an image.
    """
    keep_site = ("pip",) if keep_pip else ()

    def ignore(dirpath: str, names: list[str]) -> set[str]:
        rel = os.path.relpath(dirpath, src)
        skip = {n for n in names if n == "__pycache__"}
        if rel == "bin" and not keep_pip:
            skip |= {n for n in names if n not in _KEEP_BIN}
        if rel == "lib/python3.12":
            skip |= {n for n in names if n in _DROP_DIRS and n != "site-packages"}
        if rel == "lib/python3.12/site-packages":
            skip |= {n for n in names
                     if not any(n == k or n.startswith(k + "-") for k in keep_site)}
        return skip

    shutil.copytree(src, stage, symlinks=True, ignore=ignore)
    (stage / SITE).mkdir(parents=True, exist_ok=True)
    if not keep_pip:
        (stage / SITE / "README.txt").write_text("site-packages of the conda python\n")
    for path in stage.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        head = path.read_bytes()[:4]
        if head == b"\x7fELF":
            rpath = "$ORIGIN/../lib" if path.parent.name == "bin" else ""
            if rpath:
                _run("patchelf", "--set-rpath", rpath, str(path))
            else:
                _run("patchelf", "--remove-rpath", str(path))
        elif path.suffix in (".py", ".pc", "") or path.name.endswith("-config"):
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            if str(src) in text:  # the installer writes the image's prefix there
                path.write_text(text.replace(str(src), prefix))


def _assemble(name: str, version: str, build: str, stage: Path, channel: Path,
              depends: list[str]) -> None:
    from rattler_build import assemble_package

    out = channel / "linux-64"
    out.mkdir(parents=True, exist_ok=True)
    assemble_package(name=name, version=version, target_platform="linux-64",
                     build_string=build, output_dir=str(out), files_dir=str(stage),
                     depends=depends, timestamp=EPOCH, compression_level=1,
                     detect_prefix=True)


def legacy_package(stage: Path, out: Path, name: str, version: str, build: str,
                   depends: list[str]) -> Path:
    """A .tar.bz2 conda package of `stage`, recording PLACEHOLDER where text files have it."""
    import bz2
    import io
    import json
    import tarfile

    paths, members = [], []
    for path in sorted(stage.rglob("*")):
        rel = path.relative_to(stage).as_posix()
        if path.is_symlink():
            paths.append({"_path": rel, "path_type": "softlink", "size_in_bytes": 0,
                          "sha256": hashlib.sha256(os.readlink(path).encode()).hexdigest()})
        elif path.is_file():
            data = path.read_bytes()
            entry = {"_path": rel, "path_type": "hardlink", "size_in_bytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()}
            if PLACEHOLDER.encode() in data and b"\0" not in data:
                entry.update(file_mode="text", prefix_placeholder=PLACEHOLDER)
            paths.append(entry)
        else:
            continue
        members.append(rel)
    index = {"name": name, "version": version, "build": build, "build_number": 0,
             "subdir": "linux-64", "platform": "linux", "arch": "x86_64", "depends": depends,
             "timestamp": int(EPOCH.timestamp() * 1000)}
    info = {"info/index.json": json.dumps(index, indent=1, sort_keys=True),
            "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=1)}
    target = out / f"{name}-{version}-{build}.tar.bz2"
    out.mkdir(parents=True, exist_ok=True)
    with bz2.open(target, "wb", compresslevel=1) as raw, \
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, text in info.items():
            data = text.encode()
            ti = tarfile.TarInfo(rel)
            ti.size, ti.mtime = len(data), int(EPOCH.timestamp())
            tar.addfile(ti, io.BytesIO(data))
        for rel in members:
            ti = tar.gettarinfo(str(stage / rel), arcname=rel)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = int(EPOCH.timestamp()), 0, 0, "", ""
            if ti.isreg():
                with open(stage / rel, "rb") as fh:
                    tar.addfile(ti, fh)
            else:
                tar.addfile(ti)
    return target


def _tinygeo(python: Path, tmp: Path, channel: Path) -> None:
    src = SOURCES / "libtinygeo"
    lib = tmp / "libtinygeo"
    (lib / "lib").mkdir(parents=True)
    (lib / "include").mkdir()
    _run("gcc", "-O2", "-shared", "-fPIC", "-Wl,-soname,libtinygeo.so.1", "-o",
         str(lib / "lib" / "libtinygeo.so.1.0.0"), str(src / "tinygeo.c"), "-lm")
    os.symlink("libtinygeo.so.1.0.0", lib / "lib" / "libtinygeo.so.1")
    os.symlink("libtinygeo.so.1", lib / "lib" / "libtinygeo.so")
    shutil.copy(src / "tinygeo.h", lib / "include")
    for kind in ("activate", "deactivate"):
        scripts = lib / "etc" / "conda" / f"{kind}.d"
        scripts.mkdir(parents=True)
        shutil.copy(src / f"{kind}.sh", scripts / "libtinygeo.sh")
    (lib / "share" / "tinygeo").mkdir(parents=True)
    (lib / "share" / "tinygeo" / "README").write_text("libtinygeo data\n")
    _assemble("libtinygeo", "1.0.0", "h0_0", lib, channel, ["__glibc >=2.17"])

    binding = tmp / "tinygeo"
    pkg = binding / SITE / "tinygeo"
    pkg.mkdir(parents=True)
    shutil.copy(src / "__init__.py", pkg)
    _run("gcc", "-O2", "-shared", "-fPIC", f"-I{python}/include/python3.12",
         f"-I{src}", "-o", str(pkg / "_tinygeo.cpython-312-x86_64-linux-gnu.so"),
         str(src / "_tinygeo.c"), f"-L{lib / 'lib'}", "-l:libtinygeo.so.1",
         "-Wl,-rpath,$ORIGIN/../../..")
    info = binding / SITE / "tinygeo-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinygeo\nVersion: 1.0.0\n")
    (info / "INSTALLER").write_text("conda\n")
    (info / "top_level.txt").write_text("tinygeo\n")
    files = sorted(p.relative_to(binding / SITE).as_posix()
                   for p in (binding / SITE).rglob("*") if p.is_file())
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files)
                                 + "tinygeo-1.0.0.dist-info/RECORD,,\n")
    _assemble("tinygeo", "1.0.0", "py312h0_0", binding, channel,
              ["python >=3.12,<3.13", "libtinygeo >=1.0,<1.1", "__glibc >=2.17"])


def _fingerprint(python: Path) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(EXAMPLES.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(EXAMPLES)).encode() + b"\0" + path.read_bytes())
    h.update(str(python).encode())
    return h.hexdigest()[:16]


def build_example_channel(channel: Path) -> str:
    python = find_cpython()
    channel.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dockyard-example-") as tmp:
        stage = Path(tmp) / "python"
        relocate_cpython(python, stage)
        legacy_package(stage, channel / "linux-64", "python", PYTHON_VERSION, "h0_dockyard",
                       ["__glibc >=2.17"])
        _tinygeo(python, Path(tmp), channel)
    return build_channel(channel, [CondaPackage("poetry", "2.1.3", subdir="noarch",
                                                depends=("python >=3.9",))])


def _git_repo(bare: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-xrpatch-") as tmp:
        shutil.copytree(SOURCES / "xrpatch", tmp, dirs_exist_ok=True)
        env = {**os.environ, "GIT_AUTHOR_NAME": "dockyard", "GIT_AUTHOR_EMAIL": "d@example.org",
               "GIT_COMMITTER_NAME": "dockyard", "GIT_COMMITTER_EMAIL": "d@example.org",
               "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
               "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z", "GIT_CONFIG_GLOBAL": "/dev/null"}
        _run("git", "init", "-q", "-b", "main", tmp, env=env)
        _run("git", "add", "-A", cwd=tmp, env=env)
        _run("git", "commit", "-q", "-m", "xrpatch 0.3.0", cwd=tmp, env=env)
        _run("git", "clone", "-q", "--bare", tmp, str(bare), env=env)


def default_dest() -> Path:
    """Where tests and scripts/demo keep the example: one place, so image layers are reused."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "dockyard" / "example"


def example_env(dest: str | Path) -> dict[str, str]:
    """The environment under which the example's git URL reaches the local repository."""
    return {"GIT_CONFIG_GLOBAL": str(Path(dest).resolve() / "gitconfig")}


def make_example(dest: str | Path) -> Path:
    """Build the example's channel and git repository under `dest`; return the project dir.

    Built in a folder beside `dest`, then swapped in, under a file lock: a concurrent
    caller waits and reuses it, and nobody sees a half-written channel.
    """
    dest = Path(dest).resolve()
    key = _fingerprint(find_cpython())
    project = dest / "minicase"
    stamp = dest / ".dockyard-example"
    with machine_lock(dest.parent / f".{dest.name}.lock"):
        if stamp.exists() and stamp.read_text() == key and project.is_dir():
            return project
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        tmp.chmod(0o755)
        try:
            # The channel's URL is the final one: build under `dest`'s name, then move.
            url = (dest / "channel").as_uri()
            build_example_channel(tmp / "channel")
            _git_repo(tmp / "git" / "xrpatch.git")
            (tmp / "gitconfig").write_text(
                f'[url "{(dest / "git" / "xrpatch.git").as_uri()}"]\n\tinsteadOf = {GIT_URL}\n')
            shutil.copytree(PROJECT, tmp / "minicase", ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "dockyard.lock"))
            toml = tmp / "minicase" / "dockyard.toml"
            toml.write_text(toml.read_text().replace("@CHANNEL@", url))
            (tmp / ".dockyard-example").write_text(key)
            old = dest.with_name(f".{dest.name}-old-{os.getpid()}")
            if dest.exists():
                dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return project


@contextlib.contextmanager
def locked_example() -> Iterator[Path]:
    """The example, made and locked (`dockyard lock`), with its git URL mapped while in use.
    dockyard's caches are held meanwhile: `dockyard cache clean` waits, not removes it."""
    from ..caches import in_use
    from .cli import run_cli

    with in_use():
        dest = default_dest()
        project = make_example(dest)
        saved = {k: os.environ.get(k) for k in example_env(dest)}
        os.environ.update(example_env(dest))
        try:
            code, out = run_cli("lock", "--project", str(project))
            if code != 0:
                raise RuntimeError(f"dockyard lock of the example failed:\n{out}")
            yield project
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

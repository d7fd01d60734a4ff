"""Projects to pack in tests and benchmarks: the bundled example, and one with a binary prefix.

`locked_example(dest)` copies the bundled example (dockyard.testing.example)
to `dest` and locks it (PyPI is needed once; uv's cache serves later runs).
`binary_prefix_project(dest)` makes a project whose conda package `where` is a
C program holding its build prefix in a binary string, recorded in
info/paths.json with conda-build's 255-character placeholder and
`file_mode: binary`: the case conda relocates with NUL padding.
`private_git_project(dest, url)` makes a project (the example's conda python)
that depends on `privutils` from a private git repository at `url`
(`PRIVATE_PACKAGE`, served by dockyard.testing.gitserver): not locked, since
locking needs the credential.
"""

from __future__ import annotations

import asyncio
import bz2
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
from pathlib import Path

from .example import PYTHON_VERSION, default_dest, example_env, make_example

# conda-build's host prefix placeholder: 255 characters, so any prefix fits in binaries.
CONDA_PLACEHOLDER = ("/opt/conda/conda-bld/where_1/_h_env" + "_placehold" * 30)[:255]


def locked_example(dest: Path) -> Path:
    """A locked copy of the bundled example in `dest/minicase`; its git URL is mapped for
    the calling process (GIT_CONFIG_GLOBAL, as `example_env` says)."""
    from ..cli import main
    from ..cli.ui import Ui

    shared = default_dest()
    project = make_example(shared)
    os.environ.update(example_env(shared))
    target = Path(dest) / "minicase"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("dockyard.lock"))
    ui = Ui()
    with open(os.devnull, "w") as null:
        ui.console.file = null
        ui.err.file = null
        code = main(["lock", "--project", str(target)], ui)
    if code != 0:
        raise RuntimeError(f"dockyard lock of {target} failed ({code})")
    return target


_WHERE_C = """\
#include <stdio.h>
static const char data[] = PREFIX "/share/where/data";
int main(void) { puts(data); return 0; }
"""


def where_package(out: Path) -> Path:
    """`where-1.0-h0.tar.bz2`: bin/where prints `<prefix>/share/where/data` from a binary
    string compiled with the placeholder in it."""
    with tempfile.TemporaryDirectory(prefix="dockyard-where-") as tmp:
        src = Path(tmp, "where.c")
        src.write_text(_WHERE_C)
        exe = Path(tmp, "where")
        subprocess.run(["gcc", "-O2", f'-DPREFIX="{CONDA_PLACEHOLDER}"', "-o", str(exe),
                        str(src)], check=True, capture_output=True)
        binary = exe.read_bytes()
    files = {"bin/where": (binary, 0o755), "share/where/data": (b"where's data\n", 0o644)}
    paths = []
    for rel, (data, _mode) in files.items():
        entry = {"_path": rel, "path_type": "hardlink", "size_in_bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if CONDA_PLACEHOLDER.encode() in data:
            entry.update(file_mode="binary", prefix_placeholder=CONDA_PLACEHOLDER)
        paths.append(entry)
    index = {"name": "where", "version": "1.0", "build": "h0", "build_number": 0,
             "subdir": "linux-64", "platform": "linux", "arch": "x86_64",
             "depends": ["__glibc >=2.17"], "timestamp": 1767225600000}
    meta = {"info/index.json": json.dumps(index).encode(),
            "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}).encode()}
    target = out / "where-1.0-h0.tar.bz2"
    out.mkdir(parents=True, exist_ok=True)
    with bz2.open(target, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for rel, data in meta.items():
            ti = tarfile.TarInfo(rel)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
        for rel, (data, mode) in files.items():
            ti = tarfile.TarInfo(rel)
            ti.size, ti.mode = len(data), mode
            tar.addfile(ti, io.BytesIO(data))
    return target


def binary_prefix_project(dest: Path) -> Path:
    """A conda-only project (python + where) on a copy of the example's channel; locked."""
    from rattler.index import index_fs

    from ..cli import main
    from ..cli.ui import Ui

    dest = Path(dest)
    example = make_example(default_dest())
    channel = dest / "channel"
    shutil.copytree(example.parent / "channel", channel)
    where_package(channel / "linux-64")
    coro = index_fs(channel, target_platform=None, write_zst=False, write_shards=False)
    if asyncio.iscoroutine(coro):
        asyncio.run(coro)
    project = dest / "where-app"
    project.mkdir()
    (project / "environment.yml").write_text(
        f"name: where-app\nchannels:\n  - {channel.as_uri()}\ndependencies:\n"
        f"  - python={PYTHON_VERSION}\n  - where\n")
    (project / "dockyard.toml").write_text('[target]\nplatform = "linux-64"\nglibc = "2.28"\n')
    ui = Ui()
    with open(os.devnull, "w") as null:
        ui.console.file = null
        ui.err.file = null
        code = main(["lock", "--project", str(project)], ui)
    if code != 0:
        raise RuntimeError(f"dockyard lock of {project} failed ({code})")
    return project


PRIVATE_PACKAGE = {
    "pyproject.toml": textwrap.dedent("""\
        [project]
        name = "privutils"
        version = "0.3.0"

        [build-system]
        requires = ["hatchling>=1.24"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["privutils"]
        """),
    "privutils/__init__.py": "def ping():\n    return 'pong from the private package'\n",
}


def private_git_project(dest: Path, url: str) -> Path:
    """`dest/privcase`: python from the example's channel, `privutils @ git+URL@main`."""
    example = make_example(default_dest())
    channel = example.parent / "channel"
    project = Path(dest) / "privcase"
    (project / "privcase").mkdir(parents=True)
    (project / "privcase" / "__init__.py").write_text("from privutils import ping\n")
    (project / "environment.yml").write_text(
        f"name: privcase\nchannels:\n  - {channel.as_uri()}\ndependencies:\n"
        f"  - python={PYTHON_VERSION}\n")
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "privcase"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["privutils @ git+{url}@main"]

        [build-system]
        requires = ["hatchling>=1.24"]
        build-backend = "hatchling.build"

        [tool.hatch.metadata]
        allow-direct-references = true
        """))
    (project / "dockyard.toml").write_text('[target]\nplatform = "linux-64"\nglibc = "2.28"\n')
    return project

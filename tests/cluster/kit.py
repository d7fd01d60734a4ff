"""Helpers of the cluster tests (and bench/bench_cluster.py): the test project locked and
built, images derived by hand, wheels from PyPI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from dockyard.cluster.images import role_tags
from dockyard.testing.cli import run_cli

PROJECT = Path(__file__).parents[1] / "projects" / "daskcase"
REPO = "localhost/dockyard-test/daskcase"


def locked_copy(dest: Path, edit=None) -> Path:
    """A copy of the test project (edited by `edit(dest)`), with its dockyard.lock."""
    shutil.copytree(PROJECT, dest)
    if edit:
        edit(dest)
    code, out = run_cli("lock", "--project", str(dest))
    assert code == 0, out
    return dest


def build(project: Path, base: str, tag: str, *extra: str) -> tuple[dict[str, str], str]:
    code, out = run_cli("cluster", "build", "--project", str(project), "--base", base,
                        "-t", tag, *extra, width=300)
    assert code == 0, out
    return role_tags(tag), out


def derived_image(podman, tag: str, containerfile: str, files: dict[str, Path],
                  tmp: Path) -> str:
    """An image made from another one by hand (the failures a cluster meets)."""
    ctx = tmp / tag.rsplit(":", 1)[-1]
    ctx.mkdir(parents=True)
    for name, src in files.items():
        shutil.copy(src, ctx / name)
    (ctx / "Containerfile").write_text(containerfile)
    podman.check("build", "-q", "-t", tag, str(ctx), what="build")
    return tag


def wheel(name: str, version: str, dest: Path) -> Path:
    """A wheel from PyPI, downloaded by pip on the host."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "-d", str(dest), f"{name}=={version}"], check=True)
    return next(dest.glob(f"{name}-{version}-*.whl"))


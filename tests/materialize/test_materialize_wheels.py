"""Wheels for the image, installed on the host: tag choice, and the same files uv makes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from wheelmaker import make_wheel

from dockyard.errors import BuildError
from dockyard.lock.model import Artifact
from dockyard.materialize.wheels import (
    install_wheel,
    pick_sdist,
    pick_wheel,
    platform_tags,
    prefix_scheme,
    shebang,
)
from dockyard.runner import which


def art(filename: str) -> Artifact:
    return Artifact(f"https://files.example.org/{filename}", filename[:8].ljust(64, "0"),
                    filename)


NUMPY = [art(f) for f in (
    "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-1.26.4-cp312-cp312-musllinux_1_1_x86_64.whl",
    "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-1.26.4-cp312-cp312-manylinux_2_34_x86_64.whl",
    "numpy-1.26.4-cp312-cp312-macosx_11_0_arm64.whl",
    "numpy-1.26.4.tar.gz",
)]


def test_the_best_wheel_for_the_target():
    assert pick_wheel("numpy", NUMPY, "3.12", "2.41").filename.endswith("manylinux_2_34_x86_64.whl")
    assert "manylinux2014" in pick_wheel("numpy", NUMPY, "3.12", "2.28").filename
    assert "cp311" in pick_wheel("numpy", NUMPY, "3.11", "2.41").filename
    assert pick_wheel("numpy", NUMPY, "3.13", "2.41") is None  # no cp313 wheel: the sdist
    assert pick_sdist(NUMPY).filename == "numpy-1.26.4.tar.gz"
    pure = [art("six-1.17.0-py2.py3-none-any.whl"), art("six-1.17.0.tar.gz")]
    assert pick_wheel("six", pure, "3.13", "2.17").filename.startswith("six-1.17.0-py2")
    abi3 = [art("cryptography-46.0.1-cp311-abi3-manylinux_2_28_x86_64.whl")]
    assert pick_wheel("cryptography", abi3, "3.13", "2.31") is not None
    assert pick_wheel("cryptography", abi3, "3.13", "2.17") is None  # glibc too old


def test_platform_tags_go_down_to_manylinux1():
    tags = platform_tags("2.28")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in tags
    assert tags.index("manylinux_2_17_x86_64") < tags.index("manylinux2014_x86_64")
    assert tags[-2:] == ["manylinux1_x86_64", "linux_x86_64"]


def test_long_interpreter_paths_get_the_sh_trampoline():
    assert shebang("/opt/dockyard/env/bin/python") == "#!/opt/dockyard/env/bin/python"
    long = "/x" * 70 + "/bin/python"
    assert shebang(long).startswith("#!/bin/sh\n'''exec' '" + long)


def _tree(top: Path, replace: tuple[str, str] | None = None) -> dict[str, tuple[int, bytes]]:
    out = {}
    for path in sorted(top.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if replace:
                data = data.replace(replace[0].encode(), replace[1].encode())
            out[str(path.relative_to(top))] = (path.stat().st_mode & 0o777, data)
    return out


def test_installs_the_files_uv_installs(tmp_path):
    """The same wheel through uv into a venv and through dockyard for an image prefix:
    the same files, bytes and modes, but for what names the installing tool."""
    wheel = make_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    minor = "{}.{}".format(*sys.version_info[:2])
    uv = which("uv")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True,
                   env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    "--no-deps", str(wheel)], check=True,
                   env={**os.environ, "UV_NO_CACHE": "1"})
    prefix = "/opt/dockyard/env"
    root = tmp_path / "root"
    assert install_wheel(wheel, prefix_scheme(prefix, minor, "demo"), f"{prefix}/bin/python",
                         root) == "demo"
    ours = _tree(root / prefix.lstrip("/"))
    theirs = {k: v for k, v in _tree(venv, (str(venv), prefix)).items()
              if "demo" in k and not k.endswith(("uv_cache.json", "direct_url.json"))}
    info = f"lib/python{minor}/site-packages/demo-1.0.dist-info"
    assert ours.pop(f"{info}/INSTALLER")[1] == b"dockyard\n"
    assert theirs.pop(f"{info}/INSTALLER")[1] == b"uv"

    def rows(tree):  # scripts name the venv's path in uv's: their hashes differ
        return [r.split(",")[0] if r.startswith("../../../bin/") else r
                for r in tree.pop(f"{info}/RECORD")[1].decode().splitlines()
                if "/INSTALLER," not in r and "uv_cache" not in r and "direct_url" not in r]

    assert rows(ours) == rows(theirs)
    assert ours == theirs
    script = root / prefix.lstrip("/") / "bin" / "demo"
    assert script.read_text().startswith(f"#!{prefix}/bin/python\n")
    assert (root / prefix.lstrip("/") / "bin" / "demo-tool").read_text() == \
        f"#!{prefix}/bin/python\nprint('tool')\n"
    assert not list(root.rglob("*.pyc"))


def test_a_damaged_wheel_is_a_build_error(tmp_path):
    wheel = make_wheel(tmp_path / "dist")
    import zipfile

    with zipfile.ZipFile(wheel, "a") as z:  # a file the RECORD does not vouch for
        z.writestr("demo/extra.py", b"x = 1\n")
    with pytest.raises(BuildError, match="installing demo-1.0-py3-none-any.whl failed"):
        install_wheel(wheel, prefix_scheme("/p", "3.12", "demo"), "/p/bin/python",
                      tmp_path / "root")


def test_a_venv_of_the_base_python_is_what_uv_makes(tmp_path):
    """make_venv writes, without running the target's Python, what the pinned uv's
    `uv venv --python BASE PREFIX` makes at PREFIX (here both on this machine)."""
    from dockyard.materialize.build import build_python
    from dockyard.materialize.venv import make_venv
    from dockyard.plan.model import UV
    from dockyard.render.stage import stage_uv

    minor = "{}.{}".format(*sys.version_info[:2])
    python = os.path.realpath(build_python(minor))
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    stage_uv(UV, tmp_path / "uv")
    prefix = tmp_path / "image" / "env"
    subprocess.run([str(tmp_path / "uv" / "tools" / "uv"), "venv", "-q", "--python", python,
                    str(prefix)], check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    made = tmp_path / "staged"
    make_venv(made, str(prefix), python, version, UV)

    def listing(top: Path) -> dict[str, object]:
        return {str(p.relative_to(top)): (os.readlink(p) if p.is_symlink() else
                                          p.read_bytes() if p.is_file() else "dir",
                                          p.lstat().st_mode & 0o777)
                for p in sorted(top.rglob("*"))}

    assert listing(made) == listing(prefix)

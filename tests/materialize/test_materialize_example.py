"""The bundled example's environment made on the host: relocated, reproducible, complete."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dockyard.materialize import materialize, materialize_app
from dockyard.pipeline import open_project, prepare
from dockyard.testing.example import locked_example

pytestmark = [pytest.mark.podman, pytest.mark.network]


@pytest.fixture(scope="module")
def prepared(podman, platform_base):
    with locked_example() as project:
        yield prepare(open_project(project), platform_base, podman)


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, mtime and content (or link target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        what = (os.readlink(path) if path.is_symlink() else
                path.read_bytes() if path.is_file() else b"")
        out[str(path.relative_to(root))] = (st.st_mode, int(st.st_mtime), what)
    return out


def test_the_environment_is_made_for_the_image_prefix(prepared, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    p = prepared
    env = materialize(p.plan, p.lock, p.root, tmp_path / "one", glibc=p.facts.glibc)
    prefix = env.host("/opt/dockyard/env")
    assert (prefix / "bin" / "python3.12").is_file() and (prefix / "conda-meta").is_dir()
    assert not (prefix / "CACHEDIR.TAG").exists() and not list(tmp_path.rglob("*.pyc"))
    site = prefix / "lib/python3.12/site-packages"
    assert (site / "dockyard-app.pth").read_text() == "/opt/dockyard/app\n"
    assert (site / "xrpatch").is_dir() and (site / "xarray").is_dir()  # git dep + PyPI
    assert (prefix / "bin" / "jupyter").read_text().startswith("#!/opt/dockyard/env/bin/python\n")
    assert (env.host("/opt/dockyard/app") / "minicase" / "__init__.py").is_file()
    # the conda packages' paths point at the image's prefix, not at this folder
    assert str(tmp_path) not in (prefix / "lib/pkgconfig/python-3.12.pc").read_text()
    spec = json.loads(env.kernel_json)
    assert spec["env"] == {"CONDA_PREFIX": "/opt/dockyard/env",
                           "TINYGEO_DATA": "/opt/dockyard/env/share/tinygeo"}
    assert spec["argv"][0] == "/opt/dockyard/env/bin/python"
    # the relocated interpreter runs here too, with the PyPI and git packages
    done = subprocess.run([str(prefix / "bin" / "python"), "-B", "-c",
                           "import numpy, xarray, xrpatch; print(numpy.__version__)"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("1."), done.stderr
    # a code change: only the project's folder is made again
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache2"))
    again = materialize(p.plan, p.lock, p.root, tmp_path / "two", glibc=p.facts.glibc)
    for part in ("/opt/dockyard/env", "/opt/dockyard/app"):  # another folder, cold caches
        assert tree(env.host(part)) == tree(again.host(part)), part
    app = materialize_app(p.plan, p.root, tmp_path / "three")
    assert tree(app) == tree(again.host("/opt/dockyard/app"))


def test_a_prefix_elsewhere(prepared, tmp_path):
    p = prepared
    env = materialize(p.plan, p.lock, p.root, tmp_path, prefix="/srv/envs/minicase",
                      app_dir="/srv/apps/minicase", glibc=p.facts.glibc)
    top = env.host("/srv/envs/minicase")
    assert (top / "bin" / "ipython").read_text().startswith("#!/srv/envs/minicase/bin/python\n")
    assert "/srv/envs/minicase" in (top / "lib/pkgconfig/python-3.12.pc").read_text()
    assert (top / "lib/python3.12/site-packages/dockyard-app.pth").read_text() == \
        "/srv/apps/minicase\n"
    assert json.loads(env.kernel_json)["argv"][0] == "/srv/envs/minicase/bin/python"
    assert (env.host("/srv/apps/minicase") / "minicase").is_dir()
    assert not (tmp_path / "opt").exists()

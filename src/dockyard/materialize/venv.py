"""A virtual environment of the base's Python, made on the host for the image.

What `uv venv --python BASE_PYTHON PREFIX` makes inside the image, written
here without the base's interpreter: pyvenv.cfg naming the base's Python,
bin/python linked to it, lib/pythonX.Y/site-packages, and uv's activation
scripts (made by the pinned uv on this machine, then pointed at PREFIX).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import BuildError
from ..plan.model import ToolPin
from ..render.stage import stage_uv
from .build import build_python


def make_venv(env_dir: Path, prefix: str, base_python: str, version: str, uv: ToolPin) -> None:
    """Write the venv that `prefix` will be in the image, under `env_dir` (absent or empty).
    `base_python` is the interpreter uv would settle on: the real one, not a venv's link."""
    minor = ".".join(version.split(".")[:2])
    name = posixpath.basename(prefix.rstrip("/")) or "env"
    with tempfile.TemporaryDirectory(prefix="dockyard-venv-") as tmp:
        stage_uv(uv, Path(tmp))
        made = Path(tmp, "made", name)
        host = build_python(minor)
        done = subprocess.run([str(Path(tmp, "tools", "uv")), "venv", "-q", "--python", host,
                               str(made)], capture_output=True, text=True,
                              env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
        if done.returncode != 0:
            raise BuildError(f"making the virtual environment failed: {done.stderr.strip()}",
                             hint="check that a Python runs on this machine")
        host_minor = next(Path(made, "lib").iterdir()).name.removeprefix("python")
        env_dir.mkdir(parents=True, exist_ok=True)
        for item in (".gitignore", "CACHEDIR.TAG"):
            if (made / item).exists():
                shutil.copy2(made / item, env_dir / item)
        (env_dir / "bin").mkdir()
        for script in sorted(Path(made, "bin").iterdir()):
            if script.is_symlink() or not script.name.startswith(("activate", "deactivate",
                                                                   "pydoc")):
                continue
            data = script.read_bytes().replace(str(made).encode(), prefix.encode())  # CRLF kept
            data = re.sub(rb"python" + re.escape(host_minor.encode()) + rb"\b",
                          f"python{minor}".encode(), data)
            (env_dir / "bin" / script.name).write_bytes(data)
            (env_dir / "bin" / script.name).chmod(script.stat().st_mode & 0o777)
    (env_dir / "lib" / f"python{minor}" / "site-packages").mkdir(parents=True)
    os.symlink("lib", env_dir / "lib64")
    os.symlink(base_python, env_dir / "bin" / "python")
    for alias in ("python3", f"python{minor}"):
        os.symlink("python", env_dir / "bin" / alias)
    (env_dir / "pyvenv.cfg").write_text(
        f"home = {posixpath.dirname(base_python)}\nimplementation = CPython\n"
        f"uv = {uv.version}\nversion_info = {version}\ninclude-system-site-packages = false\n")


__all__ = ["make_venv"]

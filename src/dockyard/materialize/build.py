"""Wheels built from source on the host, reproducibly.

`build_wheel(tree, out, constraints, python, epoch)` runs `uv build --wheel`
with the build backends pinned by hash (`build_constraints` of render/stage,
the same pins the Containerfile uses) and SOURCE_DATE_EPOCH set, so the same
source gives the same wheel. `build_python(minor, env_python)` picks the
interpreter that builds: the environment's own when it runs here (a conda
python relocated for the image usually does), else one of this machine's of
the same minor version, else this machine's (fine for pure-Python wheels;
a native wheel built for another Python is refused by `check_wheel_tags`).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import BuildError
from ..redact import redact
from ..runner import which

log = logging.getLogger(__name__)


def _runs(python: str) -> str | None:
    """The interpreter's X.Y when it starts here, else None."""
    try:
        # -B: no bytecode left in the environment (-I ignores PYTHONDONTWRITEBYTECODE)
        done = subprocess.run([python, "-I", "-B", "-c",
                               "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def build_python(minor: str, env_python: Path | None = None) -> str:
    """A Python of version `minor` that runs on this machine (see the module docstring)."""
    candidates = [str(env_python)] if env_python and env_python.exists() else []
    candidates += [p for p in (shutil.which(f"python{minor}"),) if p and "/shims/" not in p]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(f"{pyenv}/versions/{minor}.*/bin/python{minor}"),
                         reverse=True)
    for cand in candidates:
        if _runs(cand) == minor:
            return cand
    log.info("no Python %s runs here: building source dependencies with %s (pure-Python "
             "wheels only)", minor, sys.executable)
    return sys.executable


def _uv() -> str:
    uv = which("uv")
    if uv is None:
        raise BuildError("uv is not installed", hint="reinstall dockyard (it depends on uv)")
    return uv


def build_env(constraints: str, python: str) -> Path:
    """A venv with exactly the pinned build backends, made once and kept in the cache
    (a code-only rebuild then builds without making and filling an isolated env)."""
    import hashlib
    import shutil
    import tempfile

    from ..caches import mark_used
    from ..render.stage import cache_dir

    key = hashlib.sha256(f"{os.path.realpath(python)}\0{constraints}".encode()).hexdigest()
    venv = cache_dir() / "build-envs" / key[:32]
    if (venv / "bin" / "python").exists():
        mark_used(venv)
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".env-", dir=venv.parent))
    try:
        pins = tmp / "constraints.txt"
        pins.write_text(constraints)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
        for args in (["venv", "-q", "--python", python, str(tmp / "env")],
                     ["pip", "install", "-q", "--python", str(tmp / "env" / "bin" / "python"),
                      "--require-hashes", "--no-deps", "-r", str(pins)]):
            done = subprocess.run([_uv(), *args], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise BuildError("making the build environment failed:\n"
                                 + redact(done.stderr.strip())[-1500:],
                                 hint="check that the index is reachable")
        os.replace(tmp / "env", venv)
    except OSError:  # another process made it first
        if not (venv / "bin" / "python").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return venv


def build_wheel(tree: Path, out: Path, constraints: str, python: str, epoch: int,
                what: str, *, keep_env: bool = False) -> Path:
    """Build `tree` into a wheel in `out` (created); the wheel's path. With `keep_env`,
    in a build env kept in the cache (`python` must outlive this call)."""
    out.mkdir(parents=True, exist_ok=True)
    pins = out / "build-constraints.txt"
    pins.write_text(constraints)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "UV_PYTHON_DOWNLOADS": "never",
           "UV_NO_PROGRESS": "1", "PYTHONHASHSEED": "0",
           # the environment's own interpreter may build: leave no bytecode in it
           "PYTHONDONTWRITEBYTECODE": "1"}
    if keep_env:
        venv = build_env(constraints, python)
        how = ["--no-build-isolation", "--python", str(venv / "bin" / "python")]
    else:
        how = ["--python", python, "--build-constraints", str(pins), "--require-hashes"]
    done = subprocess.run(
        [_uv(), "build", "-q", "--wheel", *how, "--out-dir", str(out / "dist"), str(tree)],
        capture_output=True, text=True, env=env,
    )
    wheels = sorted((out / "dist").glob("*.whl")) if done.returncode == 0 else []
    if len(wheels) != 1:
        raise BuildError(f"building {what} as a wheel failed:\n"
                         + redact(done.stderr.strip() or done.stdout.strip())[-1500:],
                         hint="try `uv build --wheel` in its source to see the whole error")
    return wheels[0]


def check_wheel_tags(wheel: Path, supported: list[str], what: str) -> None:
    from packaging.utils import parse_wheel_filename

    tags = {str(t) for t in parse_wheel_filename(wheel.name)[3]}
    if not tags & set(supported):
        raise BuildError(
            f"{what}: the wheel built here ({wheel.name}) does not fit the image's Python",
            hint="it has native code: build on a machine with the image's Python version, "
            "or use the Containerfile path (`dockyard build` with an engine)",
        )


__all__ = ["build_env", "build_python", "build_wheel", "check_wheel_tags"]

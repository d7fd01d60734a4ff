"""The environment of a plan, made on this machine for a prefix it will live at elsewhere.

    env = materialize(plan, lock, project_root, dest)            # both parts
    env = materialize_env(plan, lock, project_root, dest)        # the environment only
    materialize_app(plan, project_root, dest)                    # the project's package only

`dest` is a staging root laid out like the target's filesystem: the
environment is written at `dest/<prefix>` (`env.host(env.prefix)`), the
project's package at `dest/<app_dir>`; nothing is written elsewhere, and
nothing needs to run in the image. The returned `Environment` says where
each part is and carries the kernel spec (`kernel_json`).

What is made, in order (the same pieces the Containerfile installs, from the
same lock, so engine-less images, packs and Containerfile builds agree):
- the conda packages, sha256-checked, installed with py-rattler and patched
  for `prefix` (`render.stage.install_conda`); or, when the plan reuses the
  base's Python, a venv naming that Python (`materialize.venv`);
- every PyPI package from its locked wheel (the best one for the target's
  Python and glibc, `glibc=` or the lock's target), its sha256 checked against
  the lock, installed with pypa/installer: scripts with `<prefix>/bin/python`
  in their shebang, no bytecode, RECORD sorted, INSTALLER `dockyard`;
  a package locked as an sdist only is built like a git dependency;
- git and path dependencies built into wheels here (`uv build`, SOURCE_DATE_EPOCH,
  backends pinned by hash as `render.stage.build_constraints` does) and installed;
- `dockyard-app.pth` in site-packages naming `app_dir` when the project is installed;
- the project's own package, built the same way, installed into `app_dir`
  as `uv pip install --target` would (`materialize_app`);
- the kernel spec, with the variables the conda activation scripts set.

Timestamps: files from conda packages keep the mtime their archive gives
them (so the bytecode they ship stays valid); every file and folder made
here gets `epoch` (SOURCE_DATE_EPOCH, else 1980-01-01): the same lock and
source give the same trees, wherever and whenever they are made.
`prefix=`/`app_dir=` move the environment elsewhere than the plan says
(a pack unpacked at another path); `progress` receives one line per step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..audit.secrets import refuse_secrets
from ..errors import BuildError
from ..lock.model import Lock
from ..plan.model import BuildPlan
from ..render import kernel_json
from ..render.stage import (
    FIXED_MTIME,
    build_constraints,
    cache_dir,
    copy_tree,
    fetch,
    ignore_rules,
    install_conda,
    stage_source,
)
from .build import build_python, build_wheel, check_wheel_tags
from .wheels import (
    Scheme,
    install_wheel,
    pick_sdist,
    pick_wheel,
    prefix_scheme,
    supported_tags,
    target_scheme,
)

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
APP_PTH = "dockyard-app.pth"


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH when set (an integer), else 1980-01-01 as in wheels."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return FIXED_MTIME
    if not value.isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds",
                         hint="set it to an integer (e.g. `git log -1 --format=%ct`) or unset it")
    return int(value)


@dataclass(frozen=True, slots=True)
class Environment:
    root: Path  # the staging root: an image path P is at root / P
    prefix: str  # where the environment lives on the target
    app_dir: str | None  # where the project's package lives, when it is installed
    python: str  # the environment's interpreter on the target
    kernel_json: bytes  # the kernel spec, activation variables in "env"
    epoch: int

    def host(self, path: str) -> Path:
        """Where the target's `path` is on this machine."""
        return self.root / path.lstrip("/")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _say(progress: Progress | None, line: str) -> None:
    log.info("%s", line)
    if progress:
        progress(line)


def _clean_dir(path: Path) -> None:
    if path.exists() and any(path.iterdir()):
        raise BuildError(f"{path} is not empty", hint="give an empty or new directory")
    path.mkdir(parents=True, exist_ok=True)


def _constraints(trees: list[Path], python: str) -> str:
    """Build-backend pins for `trees`, cached by what they ask for (same source, same pins)."""
    import hashlib

    from ..render.stage import build_requires

    requires = sorted({r for t in trees for r in build_requires(t)})
    key = hashlib.sha256(json.dumps([requires, _minor(python)]).encode()).hexdigest()[:32]
    path = cache_dir() / "build-constraints" / f"{key}.txt"
    if path.is_file():
        return path.read_text()
    text = build_constraints(trees, python)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(text)
    os.replace(tmp, path)
    return text


def _install_pypi(plan: BuildPlan, lock: Lock, root: Path, prefix: str, glibc: str,
                  tmp: Path, python_build: Callable[[], str], epoch: int,
                  progress: Progress | None) -> None:
    minor = plan.interpreter.minor
    interpreter = f"{prefix}/bin/python"
    sdists: list[tuple[str, Path]] = []
    for pin in plan.wheels:
        locked = lock.get(pin.name)
        artifacts = [a for a in (locked.artifacts if locked else ()) if a.sha256 in pin.hashes]
        art = pick_wheel(pin.name, artifacts, minor, glibc)
        if art is None:
            sdist = pick_sdist(artifacts)
            if sdist is None:
                raise BuildError(f"PyPI package {pin.name} {pin.version}: no wheel for Python "
                                 f"{minor} on glibc {glibc} and no sdist in the lock",
                                 where="dockyard.lock", hint="run `dockyard lock` again for "
                                 "this target ([target] python and glibc in dockyard.toml)")
            path = fetch(sdist.url, sdist.sha256, f"PyPI package {pin.name}")
            sdists.append((pin.name, path))
            continue
        _say(progress, f"pypi {pin.name} {pin.version}")
        path = fetch(art.url, art.sha256, f"PyPI package {pin.name}")
        install_wheel(path, prefix_scheme(prefix, minor, pin.name), interpreter, root,
                      checked=True)
    trees = []
    for name, path in sdists:
        unpacked = tmp / "sdists" / name
        shutil.unpack_archive(path, unpacked)
        inner = [p for p in unpacked.iterdir() if p.is_dir()]
        trees.append((name, inner[0] if len(inner) == 1 else unpacked))
    _build_and_install(trees, plan, root, lambda n: prefix_scheme(prefix, minor, n),
                       interpreter, tmp, python_build, epoch, progress)


def _build_and_install(trees: list[tuple[str, Path]], plan: BuildPlan, root: Path,
                       scheme: Callable[[str], Scheme], interpreter: str, tmp: Path,
                       python: Callable[[], str], epoch: int,
                       progress: Progress | None, keep_env: bool = False) -> None:
    """Build each source tree into a wheel (backends pinned by hash) and install it."""
    if not trees:
        return
    minor = plan.interpreter.minor
    pins = _constraints([t for _, t in trees], plan.interpreter.version)
    for name, tree in trees:
        _say(progress, f"building {name} (wheel)")
        wheel = build_wheel(tree, tmp / "wheels" / name, pins, python(), epoch, name,
                            keep_env=keep_env)
        check_wheel_tags(wheel, supported_tags(minor, "2.99"), name)
        install_wheel(wheel, scheme(name), interpreter, root)


def _sources(plan: BuildPlan, project_root: Path, tmp: Path) -> list[tuple[str, Path]]:
    out = []
    for pin in plan.sources:
        stage_source(pin, project_root, tmp)
        out.append((pin.name, tmp / "sources" / pin.name))
    return out


def _normalize_mtimes(top: Path, since: float, epoch: int) -> None:
    """Everything made after `since` gets `epoch`; files from package archives keep theirs."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if name in dirnames and not os.path.islink(path) or st.st_mtime >= since:
                os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(top, (epoch, epoch))


def _kernel(plan: BuildPlan, env_dir: Path, prefix: str) -> bytes:
    spec = json.loads(kernel_json(plan))
    spec["argv"] = [a.replace(plan.prefix, prefix, 1) if a.startswith(plan.prefix) else a
                    for a in spec["argv"]]
    if plan.conda:
        from ..render.activate import activation_env

        try:
            found = activation_env(str(env_dir))
        except Exception as exc:  # a failing activation script: say which environment
            raise BuildError(f"the conda activation scripts of the environment failed: {exc}",
                             hint=f"look at {env_dir}/etc/conda/activate.d") from None
        spec["env"] = dict(sorted(
            (k, v.replace(str(env_dir), prefix)) for k, v in found.items()))
    return (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()


def materialize_env(plan: BuildPlan, lock: Lock, project_root: str | Path, dest: str | Path,
                    *, prefix: str | None = None, app_dir: str | None = None,
                    glibc: str | None = None, epoch: int | None = None,
                    progress: Progress | None = None,
                    base_interpreter: str | None = None) -> Environment:
    """Make the environment (without the project's package) under `dest` for `prefix`.
    `base_interpreter`: for a venv of the base's Python, the real interpreter behind the
    plan's (a base whose Python is itself a venv: /opt/python/bin/python3 -> /usr/bin/...)."""
    since = time.time() - 1
    root = Path(dest)
    prefix = (prefix or plan.prefix).rstrip("/")
    app_dir = (app_dir or plan.app_dir) if plan.install_project else None
    epoch = source_date_epoch() if epoch is None else epoch
    glibc = glibc or lock.target.glibc or "2.17"
    env_dir = root / prefix.lstrip("/")
    _clean_dir(env_dir)
    minor = plan.interpreter.minor
    with tempfile.TemporaryDirectory(prefix="dockyard-materialize-") as tmp_name:
        tmp = Path(tmp_name)
        if plan.conda:
            install_conda(plan.conda, prefix, env_dir, progress)
            # rattler marks the prefix as a cache: backup tools would skip the environment
            (env_dir / "CACHEDIR.TAG").unlink(missing_ok=True)
        elif plan.interpreter.kind == "base":
            from .venv import make_venv

            _say(progress, f"venv of {plan.interpreter.base_python}")
            make_venv(env_dir, prefix, base_interpreter or plan.interpreter.base_python,
                      plan.interpreter.version, plan.uv)
        env_python = env_dir / "bin" / "python"
        chosen: list[str] = []

        def python_build() -> str:
            if not chosen:
                chosen.append(build_python(minor, env_python if plan.conda else None))
            return chosen[0]

        _install_pypi(plan, lock, root, prefix, glibc, tmp, python_build, epoch, progress)
        _build_and_install(_sources(plan, Path(project_root), tmp), plan, root,
                           lambda n: prefix_scheme(prefix, minor, n), f"{prefix}/bin/python",
                           tmp, python_build, epoch, progress)
        site = env_dir / f"lib/python{minor}/site-packages"
        if app_dir:
            site.mkdir(parents=True, exist_ok=True)
            (site / APP_PTH).write_text(app_dir + "\n")
    kernel = _kernel(plan, env_dir, prefix)
    _normalize_mtimes(env_dir, since, epoch)
    return Environment(root, prefix, app_dir, f"{prefix}/bin/python", kernel, epoch)


def _host_python(minor: str) -> Callable[[], str]:
    """This machine's Python for `minor`, looked for once per process."""
    def find() -> str:
        if minor not in _HOST_PYTHONS:
            _HOST_PYTHONS[minor] = build_python(minor)
        return _HOST_PYTHONS[minor]
    return find


_HOST_PYTHONS: dict[str, str] = {}


def materialize_app(plan: BuildPlan, project_root: str | Path, dest: str | Path, *,
                    prefix: str | None = None, app_dir: str | None = None,
                    epoch: int | None = None, progress: Progress | None = None) -> Path:
    """Build the project's package as a wheel and install it under `dest/<app_dir>`."""
    since = time.time() - 1
    if not plan.install_project:
        raise BuildError("the project declares no build backend: there is no package to "
                         "build", hint="add a [build-system] table to pyproject.toml")
    prefix = (prefix or plan.prefix).rstrip("/")
    app_dir = (app_dir or plan.app_dir).rstrip("/")
    epoch = source_date_epoch() if epoch is None else epoch
    target = Path(dest) / app_dir.lstrip("/")
    _clean_dir(target)
    root = Path(project_root)
    with tempfile.TemporaryDirectory(prefix="dockyard-app-") as tmp_name:
        tmp = Path(tmp_name)
        copy_tree(root, tmp / "project", rules=ignore_rules(root))
        refuse_secrets({"": tmp / "project"}, plan.allow_secrets)
        _build_and_install([(plan.project_name, tmp / "project")], plan, Path(dest),
                           lambda n: target_scheme(app_dir, n), f"{prefix}/bin/python", tmp,
                           _host_python(plan.interpreter.minor), epoch, progress, keep_env=True)
    _normalize_mtimes(target, since, epoch)
    return target


def materialize(plan: BuildPlan, lock: Lock, project_root: str | Path, dest: str | Path, *,
                prefix: str | None = None, app_dir: str | None = None,
                glibc: str | None = None, epoch: int | None = None,
                progress: Progress | None = None) -> Environment:
    """The environment and, when the plan installs it, the project's package."""
    env = materialize_env(plan, lock, project_root, dest, prefix=prefix, app_dir=app_dir,
                          glibc=glibc, epoch=epoch, progress=progress)
    if env.app_dir:
        materialize_app(plan, project_root, dest, prefix=env.prefix, app_dir=env.app_dir,
                        epoch=env.epoch, progress=progress)
    return env


__all__ = ["APP_PTH", "Environment", "materialize", "materialize_app", "materialize_env",
           "source_date_epoch"]

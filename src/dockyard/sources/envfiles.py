"""Which conda environment file a project uses, and the conda locks beside it.

Projects keep environment files at the root or in a folder of their own
(`.devcontainer/`, `binder/`, `ci/`, `envs/`, ...). The rule, explicit:

- `[conda] environment` in dockyard.toml names the file (or `false`: none);
- else a root `environment.yml` / `.yaml` is the one (others found are told);
- else the one file found in the usual folders is used, and said;
- several: stop, list them, and name the key that chooses.

Files whose names say "lock" (`conda-lock.yml`, an environment made to run
conda-lock) are locks or tool environments, never the project's environment.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SpecError

ROOT_NAMES = ("environment.yml", "environment.yaml")
FOLDERS = ("", ".devcontainer", "binder", ".binder", "ci", ".ci", "envs", "env", "environment",
           "environments", "conda", "docker", "deploy", "deployment", ".github")
_NAME = re.compile(r"^(environment|env|conda)([-_.][A-Za-z0-9_.-]+)?\.ya?ml$", re.IGNORECASE)
KEY = "[conda] environment"
PROJECT_FILES = ("pyproject.toml", "poetry.lock", "uv.lock", "environment.yml",
                 "environment.yaml", "pixi.toml")


def _is_environment(path: Path) -> bool:
    if not _NAME.match(path.name) or "lock" in path.name.lower() or not path.is_file():
        return False
    try:
        head = path.read_text(errors="replace")[:20000]
    except OSError:
        return False
    return bool(re.search(r"^dependencies\s*:", head, re.MULTILINE))


def candidates(root: Path) -> list[str]:
    """Environment files in the root and the usual folders, one per real file, sorted."""
    found: dict[Path, tuple[bool, str]] = {}  # real file -> (seen through a link, path)
    for folder in FOLDERS:
        base = root / folder if folder else root
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            if not _is_environment(path):
                continue
            real, rel = path.resolve(), path.relative_to(root).as_posix()
            # a link to another candidate (binder/ -> ci/) is the same file: keep the file
            if real not in found or (found[real][0] and not path.is_symlink()):
                found[real] = (path.is_symlink(), rel)
    return sorted((rel for _, rel in found.values()), key=lambda r: (r.count("/"), r))


def choose(root: Path, setting: str | bool | None, setting_where: str) -> tuple[
        str | None, str | None]:
    """(the environment file to read, relative to the root; a sentence saying why)."""
    if setting is False:
        return None, f"no environment file ({setting_where}: environment = false)"
    if isinstance(setting, str) and setting:
        path = root / setting
        if not path.is_file():
            found = candidates(root)
            raise SpecError(f"environment {setting!r} does not exist", where=setting_where,
                            hint="name one of: " + ", ".join(found) if found else
                            "no environment file was found in the project; remove the key")
        return Path(setting).as_posix(), f"{setting} ({setting_where})"
    at_root = [n for n in ROOT_NAMES if (root / n).is_file()]
    if len(at_root) > 1:
        raise SpecError("both environment.yml and environment.yaml exist", where=str(root),
                        hint="keep one of them, or choose with "
                             f'{KEY} = "environment.yml" in dockyard.toml')
    found = candidates(root)
    if at_root:
        others = [f for f in found if f != at_root[0]]
        why = f"{at_root[0]}, at the root"
        if others:
            why += (f" (also found: {', '.join(others)}; {KEY} in dockyard.toml chooses "
                    "another)")
        return at_root[0], why
    if len(found) == 1:
        return found[0], f"{found[0]}, the only environment file found"
    if found:
        raise SpecError(
            f"several conda environment files and none at the root: {', '.join(found)}",
            where=str(root),
            hint=f'choose one in dockyard.toml, under [conda]: environment = "{found[0]}" '
                 "(or environment = false for none); `dockyard init --environment FILE` "
                 "writes it")
    return None, None


def locks_beside(root: Path, environment: str | None, platform: str) -> list[str]:
    """conda-lock / pixi lock files next to the environment file (or at the root)."""
    folders = [Path(environment).parent.as_posix()] if environment else []
    folders.append("")
    out: list[str] = []
    for folder in dict.fromkeys(f if f != "." else "" for f in folders):
        base = root / folder if folder else root
        unified = base / "conda-lock.yml"
        explicit = base / f"conda-{platform}.lock"
        pixi = base / "pixi.lock"
        # both when both are there: they may disagree, and a stale one must not win
        for path in (unified, explicit):
            if path.is_file():
                out.append(path.relative_to(root).as_posix())
        if pixi.is_file():
            out.append(pixi.relative_to(root).as_posix())
        if out:
            break
    return out


def projects_below(root: Path, depth: int = 3, limit: int = 12) -> list[str]:
    """Folders under `root` that hold project files: what to pass as --project."""
    out: list[str] = []

    def walk(folder: Path, level: int) -> None:
        if level > depth or len(out) >= limit:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir()
                              and not p.name.startswith((".git", "node_modules")))
        except OSError:
            return
        for child in children:
            names = {p.name for p in child.iterdir() if p.is_file()}
            if names & set(PROJECT_FILES) or any(_NAME.match(n) and "lock" not in n
                                                 for n in names) or any(
                    n.startswith("requirements") and n.endswith(".txt") for n in names):
                out.append(child.relative_to(root).as_posix())
            walk(child, level + 1)

    walk(root, 1)
    return out[:limit]

"""The corpus of real projects (../shared/corpus and bench/corpus): find, copy, describe.

    for folder in corpus_projects():          # every project folder, sorted
        project = copy_project(folder, tmp / folder.name)   # writable, hosts put back
        info = source_of(folder)              # SOURCE.toml: repo, commit, kind, notes

The corpus files write the public PyPI hosts as placeholders (`https://@PYPI@`,
`https://@PYPI_FILES@`); `copy_project` puts back the hosts dockyard uses as
its default index, so what dockyard reads is what the developers wrote.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..lock.pypi import PYPI_FILES, PYPI_SIMPLE

REPO = Path(__file__).resolve().parents[3]  # src/dockyard/testing -> the repository
PLACEHOLDERS = {
    "https://@PYPI@": PYPI_SIMPLE.removesuffix("/simple"),
    "https://@PYPI_FILES@": PYPI_FILES,
}


def corpus_roots() -> list[Path]:
    """Where corpus projects live: $DOCKYARD_CORPUS, ../shared/corpus, bench/corpus."""
    roots = [Path(p) for p in os.environ.get("DOCKYARD_CORPUS", "").split(os.pathsep) if p]
    roots += [REPO.parent / "shared" / "corpus", REPO / "bench" / "corpus"]
    return [r for r in roots if r.is_dir()]


def corpus_projects() -> list[Path]:
    """Every corpus project folder (one with a SOURCE.toml), sorted by name."""
    found = {p.parent.name: p.parent for root in corpus_roots()
             for p in root.glob("*/SOURCE.toml")}
    return [found[name] for name in sorted(found, key=str.lower)]


def find_project(name: str) -> Path | None:
    return next((p for p in corpus_projects() if p.name == name), None)


def source_of(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "SOURCE.toml"
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def restore_hosts(text: str) -> str:
    for placeholder, host in PLACEHOLDERS.items():
        text = text.replace(placeholder, host)
    return text


def copy_project(src: Path, dest: Path) -> Path:
    """A writable copy of a corpus project with the real PyPI hosts put back.

    Symbolic links inside the project stay links (binder/environment.yml ->
    ../ci/environment.yml); SOURCE.toml is not copied: it is the corpus's, not
    the project's.
    """
    src, dest = Path(src), Path(dest)
    shutil.copytree(src, dest, symlinks=True,
                    ignore=lambda d, names: ["SOURCE.toml"] if Path(d) == src else [])
    for path in dest.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)
        if path.is_file():
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            fixed = restore_hosts(text)
            if fixed != text:
                path.write_text(fixed)
    dest.chmod(0o755)
    return dest


def iter_projects(names: list[str] | None = None) -> Iterator[Path]:
    """The corpus projects named (folder names or paths), or all of them."""
    if not names:
        yield from corpus_projects()
        return
    for name in names:
        path = Path(name)
        yield path if path.is_dir() else (find_project(name) or path)

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / ".." / "shared" / "cases" / "dctools-seed"
PROJECTS = REPO / "tests" / "projects"


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared case is read-only
    dst.chmod(0o755)
    return dst


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A writable copy of the founding case, as posted (environment.yml line 7 is broken)."""
    return copy_tree(CASE, tmp_path / "dctools-seed")


@pytest.fixture
def fixed_case(case: Path) -> Path:
    """The founding case with environment.yml's bad match spec written as conda means it."""
    env = case / "environment.yml"
    env.write_text(env.read_text().replace('python(">=3.11.0,<3.14.0")', "python >=3.11.0,<3.14.0"))
    return case


@pytest.fixture
def project(tmp_path: Path):
    """Copy tests/projects/<name> into tmp_path."""
    def make(name: str) -> Path:
        return copy_tree(PROJECTS / name, tmp_path / name)

    return make

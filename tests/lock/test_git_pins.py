"""Defect 2: git commits recorded in the project's lock are pinned, and a moved branch told.

Shapes from the corpus: AI4Finance-Foundation/FinRL's poetry.lock (a git
dependency on the default branch, `#egg=` inside the URL, resolved_reference
b974a80 while the branch has moved since), ML4GW/aframe-legacy's typeo
(`branch = "main"`), and uv.lock's `git = "URL?branch=main#<commit>"`.
"""

# ruff: noqa: E501 (lock excerpts keep the real files' long lines)

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from dockyard.lock import rules
from dockyard.lock.gitref import HeadUnknown, remote_head
from dockyard.lock.resolve import _git_notes, bind_pins, lock_project
from dockyard.sources import parse_pyproject, read_project
from dockyard.sources.locks import git_reference, parse_poetry_lock, parse_uv_lock
from dockyard.spec import ProjectSpec

FINRL_PYPROJECT = """
[tool.poetry]
name = "finrl"
[tool.poetry.dependencies]
python = "^3.7"
elegantrl = {git="https://github.com/AI4Finance-Foundation/ElegantRL.git#egg=elegantrl"}
"""

FINRL_LOCK = """
[[package]]
name = "elegantrl"
version = "0.3.6"
description = "Lightweight, Efficient and Stable DRL Implementation Using PyTorch"
optional = false
python-versions = "*"
files = []
develop = false

[package.source]
type = "git"
url = "https://github.com/AI4Finance-Foundation/ElegantRL.git#egg=elegantrl"
reference = "HEAD"
resolved_reference = "b974a806e6235f59055c954418e54640fa549331"

[metadata]
lock-version = "2.0"
python-versions = "~3.10"
"""


def finrl_spec(**settings) -> ProjectSpec:
    from dockyard.spec import Settings

    part = parse_pyproject(tomllib.loads(FINRL_PYPROJECT))
    lock = parse_poetry_lock(tomllib.loads(FINRL_LOCK))
    return ProjectSpec(root="/p", name="finrl", requires_python=part.requires_python,
                       pypi=part.pypi, pins=lock.pins, locks=(lock,),
                       settings=Settings(**settings))


def test_egg_fragment_is_not_part_of_the_git_address():
    spec = finrl_spec()
    (req,) = spec.pypi
    assert req.git.url == "https://github.com/AI4Finance-Foundation/ElegantRL.git"
    assert spec.pins[0].url == "https://github.com/AI4Finance-Foundation/ElegantRL.git"


def test_the_recorded_commit_is_what_uv_is_asked_for():
    spec = finrl_spec()
    pins, _ = bind_pins(spec, "3.10")
    requests = rules.select(spec, (), pins)
    (req,) = requests.pypi
    assert (req.git.kind, req.git.ref) == ("rev", "b974a806e6235f59055c954418e54640fa549331")
    (pinned,) = requests.git_pins
    assert pinned.kind == "default" and pinned.where.startswith("poetry.lock")
    # a git pin is not a version constraint on the PyPI side
    assert not [c for c in requests.pypi_constraints if c.startswith("elegantrl")]


def test_unpin_follows_the_branch_on_purpose():
    spec = finrl_spec(unpin=("elegantrl",))
    pins, _ = bind_pins(spec, "3.10")
    (req,) = rules.select(spec, (), pins).pypi
    assert req.git.kind == "default" and req.git.ref is None


def test_the_lock_python_chooses_the_target_when_nothing_else_does():
    from dockyard.lock.resolve import first_python

    python, why = first_python(finrl_spec())
    assert python == "3.10"  # ^3.7 allows 3.8, but the lock was made for ~3.10
    assert "poetry.lock" in why


def test_moved_branch_note_names_both_commits_and_how_to_move():
    old, new = "b974a806e6235f59055c954418e54640fa549331", "7c64395f" + "0" * 32
    pin = rules.GitPin("elegantrl", "https://github.com/AI4Finance-Foundation/ElegantRL.git",
                       "default", None, old, "poetry.lock:1055")
    (note,) = _git_notes([pin], lambda url, kind, ref: new, lambda _: None)
    assert old in note.message and new in note.message and "has moved" in note.message
    assert 'unpin = ["elegantrl"]' in note.message and "poetry update elegantrl" in note.message


def test_unknown_head_is_said_not_guessed():
    pin = rules.GitPin("typeo", "https://github.com/ML4GW/typeo.git", "branch", "main",
                       "a" * 40, "poetry.lock:900")

    def unreachable(url, kind, ref):
        raise HeadUnknown("Could not resolve host: github.com")

    (note,) = _git_notes([pin], unreachable, lambda _: None)
    assert "unknown" in note.message and "Could not resolve host" in note.message
    assert "a" * 40 in note.message


def test_uv_lock_git_sources():
    doc = tomllib.loads("""
version = 1
[[package]]
name = "proj"
version = "0.1"
source = { editable = "." }
dependencies = [{ name = "cfgrib" }]
[[package]]
name = "cfgrib"
version = "0.9.15.0"
source = { git = "https://github.com/NickGeneva/cfgrib.git?branch=main#6a9af3173d7050b5fa5d221755f97e6ecb8c3433" }
""")
    lock = parse_uv_lock(doc)
    (pin,) = [p for p in lock.pins if not p.local]
    assert pin.commit == "6a9af3173d7050b5fa5d221755f97e6ecb8c3433"
    assert pin.url == "https://github.com/NickGeneva/cfgrib.git"
    assert git_reference("https://h/r.git?branch=main#abc") == ("branch", "main")


# -- for real: a local repository whose branch moved after the lock recorded a commit ----


def _git(*args: str, cwd: Path) -> str:
    ident = ("-c", "user.name=t", "-c", "user.email=t@dockyard.invalid")
    return subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def moved_branch(tmp_path) -> tuple[Path, str, str]:
    """A bare repo of package `typeo` whose branch `main` moved: (bare, first, head)."""
    src = tmp_path / "src"
    (src / "typeo").mkdir(parents=True)
    (src / "typeo" / "__init__.py").write_text("")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "typeo"\nversion = "0.1.0"\n')
    _git("init", "-q", "-b", "main", cwd=src)
    _git("add", ".", cwd=src)
    _git("commit", "-q", "-m", "first", cwd=src)
    first = _git("rev-parse", "HEAD", cwd=src)
    (src / "pyproject.toml").write_text((src / "pyproject.toml").read_text()
                                        .replace("0.1.0", "0.2.0"))
    _git("commit", "-q", "-am", "second", cwd=src)
    head = _git("rev-parse", "HEAD", cwd=src)
    bare = tmp_path / "typeo.git"
    _git("clone", "-q", "--bare", str(src), str(bare), cwd=tmp_path)
    return bare, first, head


def test_remote_head_of_a_branch(moved_branch):
    bare, _, head = moved_branch
    assert remote_head(bare.as_uri(), "branch", "main") == head
    with pytest.raises(HeadUnknown):
        remote_head(bare.as_uri(), "branch", "gone")


@pytest.mark.network
def test_lock_keeps_the_tested_commit_and_tells_the_branch_moved(moved_branch, tmp_path):
    bare, first, head = moved_branch
    project = tmp_path / "aframe"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "aframe"\n[tool.poetry.dependencies]\npython = "^3.12"\n'
        f'typeo = {{git = "{bare.as_uri()}", branch = "main"}}\n')
    (project / "poetry.lock").write_text(
        '[[package]]\nname = "typeo"\nversion = "0.1.0"\noptional = false\n'
        'python-versions = "*"\nfiles = []\n\n[package.source]\ntype = "git"\n'
        f'url = "{bare.as_uri()}"\nreference = "main"\nresolved_reference = "{first}"\n\n'
        '[metadata]\nlock-version = "2.0"\npython-versions = "^3.12"\n')
    (project / "dockyard.toml").write_text("[install]\nkernel = false\n")
    lock = lock_project(read_project(project))
    typeo = lock.get("typeo")
    assert (typeo.commit, typeo.version) == (first, "0.1.0")  # not the branch head (0.2.0)
    (note,) = [n for n in lock.notes if n.subject == "typeo"]
    assert first in note.message and head in note.message and "has moved" in note.message

    (project / "dockyard.toml").write_text('[install]\nkernel = false\nunpin = ["typeo"]\n')
    moved = lock_project(read_project(project)).get("typeo")
    assert (moved.commit, moved.version) == (head, "0.2.0")

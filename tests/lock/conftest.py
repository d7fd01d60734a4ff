"""Fixtures for the lock tests: local git repos standing in for GitHub, a closed port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

GIT_ID = ["-c", "user.name=dockyard-tests", "-c", "user.email=tests@dockyard.invalid"]


def make_git_package(bare_dir: Path, name: str, deps: list[str], branch: str = "main") -> str:
    """A tiny pyproject-based package in a bare repo; returns its head commit."""
    src = bare_dir.parent / f"src-{name}"
    pkg = src / name.replace("-", "_")
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f'"""{name} stand-in."""\n')
    dep_list = ", ".join(f'"{d}"' for d in deps)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = [{dep_list}]\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{pkg.name}"]\n'
    )
    run = lambda *a, cwd=src: subprocess.run(["git", *a], cwd=cwd, check=True,  # noqa: E731
                                              capture_output=True, text=True)
    run("init", "-q", "-b", branch)
    run("add", ".")
    run(*GIT_ID, "commit", "-q", "-m", "init")
    commit = run("rev-parse", "HEAD").stdout.strip()
    run("clone", "-q", "--bare", str(src), str(bare_dir), cwd=bare_dir.parent)
    return commit


@pytest.fixture(scope="session")
def github_standins(tmp_path_factory) -> dict[str, str]:
    """Bare repos for xrpatcher and xESMF, and a git config that sends GitHub URLs to them.

    Returns {"config": path for GIT_CONFIG_GLOBAL, "xrpatcher": commit, "xesmf": commit}.
    """
    root = tmp_path_factory.mktemp("github")
    (root / "jejjohnson").mkdir()
    (root / "pangeo-data").mkdir()
    out = {
        "xrpatcher": make_git_package(root / "jejjohnson" / "xrpatcher.git", "xrpatcher",
                                      ["numpy"], "main"),
        "xesmf": make_git_package(root / "pangeo-data" / "xESMF.git", "xesmf",
                                  ["numpy", "xarray"], "master"),
    }
    config = root / "gitconfig"
    config.write_text(
        f'[url "file://{root}/"]\n\tinsteadOf = https://github.com/\n'
        f'[url "file://{root}/"]\n\tinsteadOf = https://x-access-token:s3cret@github.com/\n'
    )
    out["config"] = str(config)
    return out


@pytest.fixture
def git_github(github_standins, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", github_standins["config"])
    return github_standins


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

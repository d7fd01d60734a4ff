"""Fixtures for the lock tests: local git repos standing in for GitHub, a closed port."""

from __future__ import annotations

import socket

import pytest

from dockyard.testing.channel import github_standins as make_standins


@pytest.fixture(scope="session")
def github_standins(tmp_path_factory) -> dict[str, str]:
    """{"config": path for GIT_CONFIG_GLOBAL, "xrpatcher": commit, "xesmf": commit}."""
    config, commits = make_standins(tmp_path_factory.mktemp("github"))
    return {"config": str(config), **commits}


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

"""Fixtures of the hostile tests."""

from __future__ import annotations

import pytest

from .procs import HangingIndex


@pytest.fixture
def hanging_project(tmp_path):
    """A project whose only index never answers: `dockyard lock` waits inside uv forever
    (a resolve that starts is seen: the test hangs)."""
    index = HangingIndex()
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("somepkg\n")
    (root / "dockyard.toml").write_text(
        f'[target]\npython = "3.12"\n\n[[index]]\nname = "hang"\nurl = "{index.url}"\n')
    yield root
    index.close()

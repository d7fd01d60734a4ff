"""Each test gets a cache root of its own and a Podman storage of its own: `dockyard cache
clean` removes builder images machine-wide, and must not touch other test runs'."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """`$XDG_CACHE_HOME/dockyard` of this test (not created)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "xdg" / "dockyard"


@pytest.fixture(autouse=True)
def storage(tmp_path_factory, monkeypatch):
    """A Podman storage of this test's own (vfs: no mounts left behind). Every test here:
    a clean must never see the machine's builder images."""
    root = tmp_path_factory.mktemp("podman")
    conf = root / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{root}/graph"\n'
                    f'runroot = "{root}/run"\n')
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    yield root
    shutil.rmtree(root, ignore_errors=True)   # vfs: plain folders (never `system reset`:
    # it also removes the machine's networks)

"""The Dask test project (tests/projects/daskcase), locked and built once per session.

`dask_images` builds the notebook, scheduler and worker images with
`dockyard cluster build` on the platform-like base; the images made here are
removed at the end of the session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .kit import REPO, build, locked_copy


@pytest.fixture(scope="session")
def dask_project(tmp_path_factory) -> Path:
    return locked_copy(tmp_path_factory.mktemp("daskcase") / "daskcase")


@pytest.fixture(scope="session")
def made_images(podman):
    """Tags of every image the session makes, removed at its end."""
    tags: list[str] = []
    yield tags
    for tag in reversed(tags):
        podman.cli("rmi", "-f", tag)


@pytest.fixture(scope="session")
def dask_images(podman, platform_base, dask_project, made_images) -> dict[str, str]:
    tags, out = build(dask_project, platform_base, f"{REPO}:1")
    made_images.extend(tags.values())
    return {**tags, "output": out}


@pytest.fixture(scope="session")
def older_images(podman, platform_base, tmp_path_factory, made_images) -> dict[str, str]:
    """The project as it was before a change: another STEP in its module, and another
    dockyard.toml (so another lock, with the same packages: its environment layer comes
    from the layer cache and only the project's and the lock's layers are rebuilt)."""
    def edit(root: Path) -> None:
        init = root / "daskcase" / "__init__.py"
        init.write_text(init.read_text().replace("STEP = 1", "STEP = 0"))
        toml = root / "dockyard.toml"
        toml.write_text(toml.read_text().replace("[target]", "[target]\nglibc = \"2.28\""))

    project = locked_copy(tmp_path_factory.mktemp("older") / "daskcase", edit)
    tags, _ = build(project, platform_base, f"{REPO}:0")
    made_images.extend(tags.values())
    return tags

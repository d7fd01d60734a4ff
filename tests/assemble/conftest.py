"""The bundled example, locked, copied where other test runs cannot remake it."""

from __future__ import annotations

import shutil

import pytest

from dockyard.testing.example import locked_example


@pytest.fixture(scope="session")
def example(tmp_path_factory):
    with locked_example() as project:  # a copy: other test runs may remake the example
        copy = tmp_path_factory.mktemp("example") / "minicase"
        shutil.copytree(project, copy)
        yield copy

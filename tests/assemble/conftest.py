"""The bundled example, locked, copied where other test runs cannot remake it."""

from __future__ import annotations

import re
import shutil

import pytest

from dockyard.testing.cli import run_cli
from dockyard.testing.example import locked_example


@pytest.fixture(scope="session")
def example(tmp_path_factory):
    with locked_example() as project:  # a copy: other test runs may remake the example
        copy = tmp_path_factory.mktemp("example") / "minicase"
        shutil.copytree(project, copy)
        yield copy


def build(project, base, *extra, ok: bool = True):
    """`dockyard build --engine none ...`: (the image's digest, the output)."""
    code, out = run_cli("build", "--base", base, "--project", str(project), "--engine", "none",
                        *extra)
    if not ok:
        return code, out
    assert code == 0, out
    return re.search(r"assembled\s+(sha256:[0-9a-f]{64})", out).group(1), out

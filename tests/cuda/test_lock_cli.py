"""`dockyard lock` stops on a CUDA mismatch by default, and locks knowingly with the flag."""

from __future__ import annotations

import pytest

from dockyard.cli import main
from dockyard.lock.model import loads
from dockyard.testing.cli import recording_ui

pytestmark = pytest.mark.network

PYPROJECT = """\
[project]
name = "gpuapp"
version = "0.1"
requires-python = ">=3.11"
dependencies = [
    "torch (>=2.6.0,<3.0.0)",
    "torchvision (>=0.21.0,<0.22.0)",
]
"""


def _ui():
    return recording_ui(250)


def test_mismatch_fails_then_is_accepted_knowingly(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "dockyard.toml").write_text(
        '[target]\npython = "3.12"\ncuda = "12.6"\n[install]\nkernel = false\n')
    ui, _, err = _ui()
    assert main(["lock", "--project", str(tmp_path)], ui) == 2
    text = err.export_text()
    assert "12.4" in text and "torchvision>=0.21.0,<0.22.0" in text
    assert "pyproject.toml:7" in text  # the line of the constraint that forced it
    assert "pytorch-cu126" in text  # a fix to paste
    assert not (tmp_path / "dockyard.lock").exists()  # nothing written half-way

    ui, _, err = _ui()
    assert main(["lock", "--project", str(tmp_path), "--accept-cuda-mismatch"], ui) == 0
    lock = loads((tmp_path / "dockyard.lock").read_text())
    assert lock.get("torch").version == "2.6.0"
    assert any("(accepted)" in n.message for n in lock.notes)

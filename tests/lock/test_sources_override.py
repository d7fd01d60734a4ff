"""dockyard.toml [sources] end to end: real readers, a local channel, real uv on PyPI."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError
from dockyard.lock.resolve import lock_project
from dockyard.sources import read_project
from dockyard.testing.channel import build_channel, founding_case_packages

pytestmark = pytest.mark.network

PYPROJECT = """\
[project]
name = "mini"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = []

[tool.poetry.group.custom.dependencies]
xesmf = { git = "https://github.com/pangeo-data/xESMF.git", branch = "master" }
"""
ENVIRONMENT = """\
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python=3.12.11
  - esmpy
  - xesmf
  - conda-forge::numpy
"""


@pytest.fixture(scope="module")
def channel(tmp_path_factory) -> str:
    return build_channel(tmp_path_factory.mktemp("channel"), founding_case_packages())


def project(tmp_path, channel, sources: str):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "environment.yml").write_text(ENVIRONMENT)
    (tmp_path / "dockyard.toml").write_text(
        f'[conda]\nchannels = ["{channel}"]\n\n[sources]\n{sources}\n')
    return read_project(tmp_path)


def test_xesmf_from_pypi_when_dockyard_toml_says_so(tmp_path, channel, git_github):
    lock = lock_project(project(tmp_path, channel, 'xesmf = "pypi"'))
    xesmf = lock.get("xesmf")
    assert xesmf.owner == "pypi" and xesmf.commit == git_github["xesmf"]
    assert '[sources] xesmf = "pypi"' in xesmf.reason
    assert any(n.subject == "xesmf" and "conda request 'xesmf' dropped" in n.message
               for n in lock.notes)
    # its PyPI dependencies: numpy stays conda's (esmpy needs it), xarray comes from PyPI
    assert (lock.get("numpy").owner, lock.get("numpy").version) == ("conda", "2.1.0")
    assert lock.get("xarray").owner == "pypi" and "xesmf" in lock.get("xarray").reason
    assert "xesmf" in {p.name for p in lock.by_owner("pypi")}
    assert "xesmf" not in {p.name for p in lock.by_owner("conda")}
    # the channel pin `conda-forge::numpy` is not among the channels in use here
    assert any(n.subject == "numpy" and "pin is ignored" in n.message for n in lock.notes)


def test_pypi_owner_refused_when_a_conda_package_needs_it(tmp_path, channel):
    spec = project(tmp_path, channel, 'esmpy = "pypi"')
    with pytest.raises(LockError) as info:
        lock_project(spec, compile_pypi=lambda *a, **k: pytest.fail("uv must not run"))
    assert "esmpy is to come from PyPI" in info.value.message
    assert "xesmf" in info.value.message
    assert info.value.where == "dockyard.toml ([sources])"


def test_a_pypi_package_at_odds_with_condas_version_is_explained(tmp_path, channel):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "mini"\nversion = "0"\ndependencies = ["numba==0.59.1"]\n')
    (tmp_path / "environment.yml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.12.11\n  - esmpy\n")
    (tmp_path / "dockyard.toml").write_text(f'[conda]\nchannels = ["{channel}"]\n')
    with pytest.raises(LockError) as info:
        lock_project(read_project(tmp_path))
    assert "cannot be satisfied" in info.value.message and "numpy" in info.value.message
    assert info.value.where.startswith("pyproject.toml:4")
    assert "conda solve installs numpy 2.1.0 (conda package numpy)" in info.value.hint

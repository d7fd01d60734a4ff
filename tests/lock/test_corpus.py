"""Real projects lock as their developers keep them: a few quick corpus projects, for real.

uv resolves against PyPI; conda parts go to a stand-in channel made from the
project's own specs and locks (`dockyard.testing.standin`: conda-forge is
unreachable here). Every pin of the project's own lock that applies to the
target must be in dockyard.lock. The whole corpus runs in bench/bench_corpus.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli import main
from dockyard.lock.model import loads
from dockyard.lock.pins import check_pins
from dockyard.lock.resolve import bind_pins
from dockyard.sources import TOOLS, read_project
from dockyard.testing.cli import recording_ui
from dockyard.testing.corpus import copy_project, find_project
from dockyard.testing.standin import standin_channel

pytestmark = pytest.mark.network


def corpus(name: str, tmp_path: Path, sub: str = "", settings: str = "") -> Path:
    folder = find_project(name)
    if folder is None:
        pytest.fail(f"corpus project {name} not found: the tests need ../shared/corpus "
                    "beside the repository (or DOCKYARD_CORPUS)")
    root = copy_project(folder, tmp_path / name) / sub
    (root / "dockyard.toml").write_text('[target]\ncuda = "12.6"\n' + settings)
    spec = read_project(root)
    if spec.conda:
        url = standin_channel(spec, tmp_path / "channel")
        (root / "dockyard.toml").write_text(
            f'[target]\ncuda = "12.6"\n{settings}\n[conda]\nchannels = ["{url}"]\n')
    return root


def locked(root: Path):
    ui, out, err = recording_ui()
    code = main(["lock", "--accept-cuda-mismatch", "--project", str(root)], ui)
    assert code == 0, out.export_text() + err.export_text()
    spec = read_project(root)
    lock = loads((root / "dockyard.lock").read_text())
    pins, _ = bind_pins(spec, lock.target.python)
    check = check_pins(pins, lock.packages, tools=TOOLS, unpin=spec.settings.unpin,
                       flat={x.file for x in spec.locks if not x.walk})
    assert not check.missed, check.missed  # 100% of the pins that apply
    return spec, lock, check, out.export_text() + err.export_text()


def test_fortuna_marker_split_poetry_lock(tmp_path):
    """awslabs/fortuna: protobuf and urllib3 split by Python; tensorflow-cpu by platform."""
    root = corpus("awslabs__fortuna", tmp_path, settings='python = "3.11"\n')
    _, lock, check, _ = locked(root)
    assert lock.get("protobuf").version == "4.25.3"  # the python_version >= "3.11" entry
    assert lock.get("urllib3").version == "2.2.2"
    assert lock.get("tensorflow-cpu") is not None and lock.get("tensorflow-macos") is None
    assert check.applicable > 150


def test_openeo_executor_old_poetry_lock_split_through_edges(tmp_path):
    """eodcgmbh/openeo-argoworkflows: poetry 1.4 lock, zarr split in a dependent's list."""
    root = corpus("eodcgmbh__openeo-argoworkflows", tmp_path,
                  sub="openeo_argoworkflows/executor")
    _, lock, check, _ = locked(root)
    assert lock.target.python.startswith("3.10")  # >=3.10,<3.12: the lowest
    assert (lock.get("zarr").version, lock.get("numcodecs").version) == ("2.17.2", "0.13.1")
    assert check.applicable > 100


def test_corn_environment_in_ci_with_its_conda_lock(tmp_path):
    """NASA-Openscapes/corn: ci/environment.yml (binder/ links to it), conda-lock.yml."""
    root = corpus("NASA-Openscapes__corn", tmp_path)
    spec, lock, check, out = locked(root)
    assert spec.environment == "ci/environment.yml"
    assert "environment file: ci/environment.yml" in out
    conda_pins = [p for p in check.honoured if p.manager == "conda"]
    assert len(conda_pins) > 500  # the locked versions won over the stand-in's newer ones
    assert lock.get("dask").owner == "conda"

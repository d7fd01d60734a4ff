"""Defect 3: environment files outside the root are found, chosen explicitly, and hashed.

Shapes from the corpus: NASA-Openscapes/corn (ci/environment.yml, binder/
environment.yml a link to it, conda-lock.yml beside), pangeo-data/xESMF
(binder/ and ci/, none at the root), nsidc/earthaccess (root and .binder/),
PyPSA/pypsa-eur (envs/environment.yaml with pixi.lock at the root).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.lock.resolve import inputs_hash
from dockyard.sources import read_project, read_settings
from dockyard.sources.condalocks import parse_explicit, parse_pixi_lock, platform_marker
from dockyard.testing.cli import run_cli

CORN_ENV = """name: corn
channels:
  - conda-forge
platforms:
  - linux-64
dependencies:
  - python=3.12
  - dask[complete]
  - cubed[diagnostics]
  - xarray
  - pip
  - pip:
      - -e ..
"""

CORN_LOCK = """version: 1
metadata:
  platforms:
  - linux-64
  sources:
  - environment.yml
package:
- name: xarray
  version: 2025.12.0
  manager: conda
  platform: linux-64
  dependencies:
    python: '>=3.11'
  url: https://conda.anaconda.org/conda-forge/noarch/xarray-2025.12.0-pyhcf101f3_0.conda
  hash:
    md5: 0
  category: main
  optional: false
- name: xarray
  version: 2025.11.0
  manager: conda
  platform: osx-arm64
  dependencies: {}
  url: https://conda.anaconda.org/conda-forge/noarch/xarray-2025.11.0-pyhcf101f3_0.conda
  hash:
    md5: 0
  category: main
  optional: false
- name: rich
  version: 14.0.0
  manager: pip
  platform: linux-64
  dependencies: {}
  url: https://files.pythonhosted.org/packages/x/rich-14.0.0-py3-none-any.whl
  hash:
    sha256: 0
  category: main
  optional: false
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def corn(tmp_path: Path) -> Path:
    root = write(tmp_path / "corn", {
        "pyproject.toml": '[project]\nname = "corn"\nversion = "1"\n',
        "ci/environment.yml": CORN_ENV, "ci/conda-lock.yml": CORN_LOCK,
        # a tool environment beside it is no candidate
        "ci/environment-lock.yml": "name: l\ndependencies:\n  - conda-lock\n"})
    (root / "binder").mkdir()
    os.symlink("../ci/environment.yml", root / "binder" / "environment.yml")
    return root


def test_one_file_in_a_subfolder_is_used_and_said(tmp_path):
    spec = read_project(corn(tmp_path))
    assert spec.environment == "ci/environment.yml"  # binder/ links to the same file
    assert any("ci/environment.yml, the only environment file found" in n for n in spec.notes)
    assert {c.name for c in spec.conda} >= {"python", "dask", "cubed", "xarray"}
    assert "ci/environment.yml" in {f.path for f in spec.inputs}


def test_pip_extras_in_a_conda_spec_are_read_as_conda_lock_does(tmp_path):
    spec = read_project(corn(tmp_path))
    dask = next(c for c in spec.conda if c.name == "dask")
    assert dask.spec == "dask"
    assert any("dask[complete]" in n and "conda-lock" in n for n in spec.notes)


def test_pip_paths_start_from_the_environment_files_folder(tmp_path):
    spec = read_project(corn(tmp_path))
    (own,) = spec.conda_pip
    assert (own.name, own.path) == ("corn", ".")  # `-e ..` from ci/ is the root


def test_editing_the_chosen_file_changes_the_lock_inputs(tmp_path):
    root = corn(tmp_path)
    before = inputs_hash(read_project(root))
    (root / "ci" / "environment.yml").write_text(CORN_ENV.replace("xarray", "xarray>=2025"))
    assert inputs_hash(read_project(root)) != before


def test_conda_lock_beside_it_gives_the_targets_conda_pins(tmp_path):
    spec = read_project(corn(tmp_path))
    conda = {p.name: p for p in spec.pins if p.manager == "conda"}
    assert {(p.version, p.build) for p in spec.pins if p.name == "xarray"} >= {
        ("2025.12.0", "pyhcf101f3_0")}
    assert "ci/conda-lock.yml" in {f.path for f in spec.inputs}
    assert conda["xarray"].source == "ci/conda-lock.yml"
    from dockyard.lock.pins import TargetEnv, target_pins
    pins, _ = target_pins(spec, TargetEnv("3.12", "linux-64"), {"main"})
    assert {(p.name, p.version, p.manager) for p in pins} == {
        ("xarray", "2025.12.0", "conda"), ("rich", "14.0.0", "pypi")}
    from dockyard.lock import rules
    requests = rules.select(spec, (), pins)
    assert "xarray ==2025.12.0" in requests.conda_constraints


def xesmf(tmp_path: Path) -> Path:
    env = "channels: [conda-forge]\ndependencies:\n  - esmpy\n"
    return write(tmp_path / "xesmf", {
        "pyproject.toml": '[project]\nname = "xesmf"\nversion = "1"\ndependencies = ["numpy"]\n',
        "binder/environment.yml": env, "ci/environment.yml": env,
        "ci/environment-upstream-dev.yml": env})


def test_several_stop_and_name_the_key(tmp_path):
    with pytest.raises(SpecError) as info:
        read_project(xesmf(tmp_path))
    err = info.value
    assert ("binder/environment.yml, ci/environment-upstream-dev.yml, ci/environment.yml"
            in err.message)
    assert 'under [conda]: environment = "binder/environment.yml"' in err.hint
    assert "dockyard init --environment" in err.hint


def test_dockyard_toml_chooses_one_or_none(tmp_path):
    root = xesmf(tmp_path)
    (root / "dockyard.toml").write_text('[conda]\nenvironment = "ci/environment.yml"\n')
    spec = read_project(root)
    assert spec.environment == "ci/environment.yml" and spec.conda[0].name == "esmpy"
    (root / "dockyard.toml").write_text("[conda]\nenvironment = false\n")
    spec = read_project(root)
    assert spec.environment is None and not spec.conda
    (root / "dockyard.toml").write_text('[conda]\nenvironment = "envs/nope.yml"\n')
    with pytest.raises(SpecError) as info:
        read_project(root)
    assert info.value.where == "dockyard.toml:2" and "ci/environment.yml" in info.value.hint


def test_init_writes_the_choice(tmp_path):
    root = xesmf(tmp_path)
    code, out = run_cli("init", "--project", str(root))
    assert code == 2 and "several conda environment files" in out
    code, out = run_cli("init", "--project", str(root), "--environment", "ci/environment.yml")
    assert code == 0, out
    assert read_settings(root / "dockyard.toml").environment == "ci/environment.yml"
    assert read_project(root).environment == "ci/environment.yml"


def test_the_root_file_wins_and_the_others_are_told(tmp_path):
    env = "channels: [conda-forge]\ndependencies:\n  - python=3.12\n"
    root = write(tmp_path / "earthaccess", {"environment.yml": env,
                                           ".binder/environment.yml": env})
    spec = read_project(root)
    assert spec.environment == "environment.yml"
    assert any("also found: .binder/environment.yml" in n for n in spec.notes)


def test_no_project_at_the_root_lists_the_subfolders(tmp_path):
    root = write(tmp_path / "argo", {
        "openeo_argoworkflows/api/pyproject.toml": '[project]\nname = "a"\n',
        "openeo_argoworkflows/executor/pyproject.toml": '[project]\nname = "e"\n',
        "Dockerfile.executor": "FROM x\n"})
    with pytest.raises(SpecError) as info:
        read_project(root)
    assert "openeo_argoworkflows/api, openeo_argoworkflows/executor" in info.value.message
    assert "--project openeo_argoworkflows/api" in info.value.hint


def test_explicit_and_pixi_locks_keep_only_their_platform():
    explicit = parse_explicit(
        "# platform: linux-64\n@EXPLICIT\n"
        "https://conda.anaconda.org/conda-forge/linux-64/geos-3.11.1-h27087fc_0.tar.bz2#917b\n",
        "conda-linux-64.lock")
    (geos,) = explicit.pins
    assert (geos.name, geos.version, geos.build) == ("geos", "3.11.1", "h27087fc_0")
    assert geos.marker == platform_marker("linux-64")
    pixi = parse_pixi_lock({
        "version": 6,
        "environments": {"default": {"packages": {
            "linux-64": [{"conda": "https://conda.anaconda.org/conda-forge/linux-64/"
                                   "proj-9.6.0-h0054346_1.conda"},
                         {"pypi": "https://files.pythonhosted.org/packages/a/b/"
                                  "linopy-0.5.5-py3-none-any.whl"}],
            "osx-arm64": [{"conda": "https://conda.anaconda.org/conda-forge/osx-arm64/"
                                    "proj-9.5.0-h0_0.conda"}]}}},
        "packages": []}, "pixi.lock")
    from dockyard.lock.pins import TargetEnv, holds
    linux = TargetEnv("3.12", "linux-64")
    kept = [(p.name, p.version, p.manager) for p in pixi.pins if holds(p.marker, linux)]
    assert kept == [("proj", "9.6.0", "conda"), ("linopy", "0.5.5", "pypi")]


def test_pixi_lock_at_the_root_binds_an_environment_in_envs(tmp_path):
    pixi = ("version: 6\nenvironments:\n  default:\n    packages:\n      linux-64:\n"
            "      - conda: https://conda.anaconda.org/conda-forge/linux-64/"
            "proj-9.6.0-h0054346_1.conda\npackages: []\n")
    root = write(tmp_path / "pypsa", {
        "envs/environment.yaml": "channels: [conda-forge]\ndependencies:\n  - proj\n",
        "pixi.lock": pixi, "pixi.toml": "[workspace]\nname = 'x'\n"})
    spec = read_project(root)
    assert spec.environment == "envs/environment.yaml"
    assert [(p.name, p.version) for p in spec.pins] == [("proj", "9.6.0")]
    assert any("pixi.lock" in n and "bind" in n for n in spec.notes)


def test_init_writes_the_file_it_found_so_the_choice_is_explicit(tmp_path):
    root = corn(tmp_path)
    code, out = run_cli("init", "--project", str(root))
    assert code == 0, out
    assert "environment file: ci/environment.yml, the only environment file found" in out
    assert read_settings(root / "dockyard.toml").environment == "ci/environment.yml"

"""The founding case (../shared/cases/dctools-seed) read end to end, on a copy."""

from __future__ import annotations

import hashlib

import pytest

from dockyard.errors import SpecError
from dockyard.sources import TOOLS, read_project

from .conftest import CASE


def test_as_posted_stops_at_the_bad_match_spec(case):
    with pytest.raises(SpecError) as info:
        read_project(case)
    err = info.value
    assert err.where == "environment.yml:7 (dependencies[0])"
    assert "is not a conda match spec" in err.message
    assert 'python(">=3.11.0,<3.14.0")' in err.message
    assert "`python >=3.11.0,<3.14.0`" in err.hint


def test_as_posted_environment_file_is_cut_off(case):
    (case / "environment.yml").write_text((CASE / "environment.as-posted.yml").read_text())
    with pytest.raises(SpecError) as info:
        read_project(case)
    err = info.value
    assert err.where == "environment.yml:2"
    assert "looks cut off" in err.message
    assert "`name:`, `channels:`" in err.hint


def test_pyproject_facts(fixed_case):
    spec = read_project(fixed_case)
    assert spec.name == "dctools"
    assert spec.requires_python == ">=3.11.0,<3.14.0"
    main = [r for r in spec.pypi if r.group == "main"]
    assert len(main) == 31
    assert all(r.origin.file == "pyproject.toml" for r in main)
    assert str(main[0].origin) == "pyproject.toml:19 (project.dependencies[0])"
    torch = next(r for r in main if r.name == "torch")
    assert str(torch.origin) == "pyproject.toml:41 (project.dependencies[22])"
    assert torch.specifier == "<3.0.0,>=2.6.0"
    netcdf = next(r for r in main if r.name == "netcdf4")
    assert netcdf.origin.line == 31  # the trailing comment does not shift anything
    dask = [r for r in main if r.name == "dask"]
    assert [r.extras for r in dask] == [(), ("distributed",)]


def test_poetry_groups(fixed_case):
    spec = read_project(fixed_case)
    assert spec.optional_groups == ("dev",)
    dev = {r.name: r for r in spec.pypi if r.group == "dev"}
    assert dev["poethepoet"].specifier == ">=0.33.0,<0.34.0"
    assert dev["pytest"].specifier == ">=7.3.1,<8.0.0"
    assert dev["ruff"].specifier == ">=0.9.10,<0.10.0"
    assert dev["wget"].specifier == ">=3.2,<4.0"
    assert dev["mypy"].specifier == ""
    assert dev["pytest"].origin.line == 63
    custom = {r.name: r for r in spec.pypi if r.group == "custom"}
    assert set(custom) == {"xrpatcher", "xesmf"}
    assert "custom" not in spec.optional_groups
    assert custom["xrpatcher"].git.url == "https://github.com/jejjohnson/xrpatcher.git"
    assert (custom["xrpatcher"].git.kind, custom["xrpatcher"].git.ref) == ("branch", "main")
    assert (custom["xesmf"].git.kind, custom["xesmf"].git.ref) == ("branch", "master")
    assert str(custom["xesmf"].origin) == \
        "pyproject.toml:75 (tool.poetry.group.custom.dependencies.xesmf)"


def test_environment_facts(fixed_case):
    spec = read_project(fixed_case)
    assert spec.channels == ("conda-forge",)  # nodefaults: no defaults channel, not a channel
    assert spec.channel_priority == "strict"
    assert [(c.name, c.spec, c.origin.line) for c in spec.conda] == [
        ("python", "python >=3.11.0,<3.14.0", 7),
        ("python", "python 3.12.11.*", 8),
        ("esmpy", "esmpy", 9),
        ("xesmf", "xesmf", 10),
        ("poetry", "poetry", 11),
    ]
    assert "poetry" in TOOLS
    assert [c.name for c in spec.conda if c.name in TOOLS] == ["poetry"]
    assert spec.conda_pip == ()


def test_inputs_are_hashed(fixed_case):
    spec = read_project(fixed_case)
    assert [i.path for i in spec.inputs] == ["environment.yml", "pyproject.toml"]
    digest = hashlib.sha256((fixed_case / "pyproject.toml").read_bytes()).hexdigest()
    assert spec.inputs[1].sha256 == digest


def test_reading_changes_nothing(fixed_case):
    def snapshot():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(fixed_case.iterdir())}

    before = snapshot()
    read_project(fixed_case)
    assert snapshot() == before


def test_shared_case_is_where_tests_expect():
    assert (CASE / "pyproject.toml").is_file()


def test_matches_expected_outputs(fixed_case):
    import json

    from dockyard.sources.initfile import render_settings

    from .conftest import PROJECTS
    from .test_read_project import summary

    spec = read_project(fixed_case)
    expected = PROJECTS / "dctools-seed"
    assert summary(spec) == json.loads((expected / "expected.json").read_text())
    assert render_settings(spec, TOOLS) == (expected / "dockyard.toml.expected").read_text()

"""read_project on the fixtures in tests/projects/ and on bad project folders."""

from __future__ import annotations

import json

import pytest
from packaging.requirements import Requirement

from dockyard.errors import SpecError
from dockyard.sources import read_project

from .conftest import PROJECTS


def summary(spec) -> dict:
    """What tests/projects/<case>/expected.json records about a spec."""
    return {
        "name": spec.name,
        "requires_python": spec.requires_python,
        "pypi": [f"{r.group}: {r.pep508()}" + (f" [index {r.index}]" if r.index else "")
                 + f" @ {r.origin}" for r in spec.pypi],
        "constraints": [f"{r.pep508()} @ {r.origin}" for r in spec.constraints],
        "conda": [f"{c.spec} @ {c.origin}" for c in spec.conda],
        "channels": list(spec.channels),
        "indexes": [f"{i.name} {i.url} explicit={i.explicit} default={i.default}"
                    for i in spec.indexes],
        "optional_groups": list(spec.optional_groups),
        "pins": [f"{p.name}=={p.version} ({p.source})" + (f" @ {p.commit}" if p.commit else "")
                 for p in spec.pins],
        "inputs": [i.path for i in spec.inputs],
    }


@pytest.mark.parametrize("name", ["poetry-locked", "uv-locked", "requirements-only"])
def test_project_fixture_matches_expected(project, name):
    spec = read_project(project(name))
    expected = json.loads((PROJECTS / name / "expected.json").read_text())
    assert summary(spec) == expected
    for r in spec.pypi + spec.constraints:
        Requirement(r.pep508())


def test_poetry_lock_pins(project):
    spec = read_project(project("poetry-locked"))
    pins = {p.name: p for p in spec.pins}
    assert pins["requests"].version == "2.32.3"  # "Requests" in the lock, canonical here
    assert pins["xrpatcher"].commit == "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
    assert {p.source for p in spec.pins} == {"poetry.lock"}


def test_uv_lock_pins_skip_the_project_itself(project):
    spec = read_project(project("uv-locked"))
    pins = {p.name: p for p in spec.pins}
    assert "tiny-uv" not in pins
    assert pins["torch"].version == "2.7.1+cu126"
    assert pins["xrpatcher"].commit == "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


def test_requirements_are_ignored_when_pyproject_declares_dependencies(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["rich"]\n')
    (tmp_path / "requirements.txt").write_text("numpy\n")
    spec = read_project(tmp_path)
    assert [r.name for r in spec.pypi] == ["rich"]
    assert [i.path for i in spec.inputs] == ["pyproject.toml"]


def test_requirements_are_read_when_pyproject_has_no_dependencies(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert [r.name for r in read_project(tmp_path).pypi] == ["numpy"]


def test_empty_folder(tmp_path):
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.message == "no project files found"
    assert info.value.where == str(tmp_path.resolve())
    assert "--project DIR" in info.value.hint


def test_not_a_folder(tmp_path):
    with pytest.raises(SpecError, match="no such directory"):
        read_project(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(SpecError, match="not a directory"):
        read_project(tmp_path / "file")


def test_both_environment_files(tmp_path):
    (tmp_path / "environment.yml").write_text("dependencies: [numpy]\n")
    (tmp_path / "environment.yaml").write_text("dependencies: [scipy]\n")
    with pytest.raises(SpecError, match="both environment.yml and environment.yaml"):
        read_project(tmp_path)


def test_malformed_toml_names_file_line_and_column(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["a" "b"]\n')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    err = info.value
    assert err.where == "pyproject.toml:3"
    assert err.message.startswith("not valid TOML:")
    assert "at column 21" in err.message and '\'dependencies = ["a" "b"]\'' in err.message
    assert "missing quote, comma or bracket" in err.hint


def test_toml_key_defined_twice(tmp_path):
    (tmp_path / "dockyard.toml").write_text('[target]\ncuda = "12.6"\ncuda = "12.4"\n')
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.where == "dockyard.toml:3"
    assert info.value.hint == "a key or table is defined twice: keep one of them"


def test_malformed_toml_at_the_end(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.where.startswith("pyproject.toml")
    assert "not valid TOML" in info.value.message


def test_missing_include(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r other.txt\n")
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.message == "other.txt is included but does not exist"


def test_environment_pip_editable_project_gets_its_name(tmp_path):
    (tmp_path / "environment.yml").write_text(
        "dependencies:\n  - python=3.12\n  - pip:\n    - -e .\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "My.App"\n')
    spec = read_project(tmp_path)
    (req,) = spec.conda_pip
    assert (req.name, req.path) == ("my-app", ".")


def test_uv_workspace_members_are_found(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "root"\ndependencies = ["lib"]\n'
        '[tool.uv.sources]\nlib = { workspace = true }\n'
        '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    (tmp_path / "packages" / "lib").mkdir(parents=True)
    (tmp_path / "packages" / "lib" / "pyproject.toml").write_text('[project]\nname = "lib"\n')
    (req,) = read_project(tmp_path).pypi
    assert req.path == "packages/lib"


def test_read_toml_and_read_yaml_give_documents(tmp_path):
    from dockyard.sources import read_toml, read_yaml

    (tmp_path / "a.toml").write_text('x = "1"\n')
    (tmp_path / "b.yml").write_text("x: [1, 2]\n")
    assert read_toml(tmp_path / "a.toml") == {"x": "1"}
    assert read_yaml(tmp_path / "b.yml") == {"x": [1, 2]}
    with pytest.raises(SpecError) as info:
        read_toml(tmp_path / "missing.toml")
    assert (info.value.message, info.value.where) == ("file not found", "missing.toml")
    (tmp_path / "bad.toml").write_bytes(b'x = "\xff"\n')
    with pytest.raises(SpecError, match="not UTF-8") as info:
        read_toml(tmp_path / "bad.toml")
    assert info.value.where == "bad.toml:1"


def test_environment_pip_includes_and_local_packages_are_inputs(tmp_path):
    (tmp_path / "environment.yml").write_text(
        "dependencies:\n  - python=3.12\n  - pip:\n    - -r requirements-pip.txt\n"
        "    - ./libs/helper\n")
    (tmp_path / "requirements-pip.txt").write_text("rich>=13\n")
    (tmp_path / "libs" / "helper").mkdir(parents=True)
    (tmp_path / "libs" / "helper" / "pyproject.toml").write_text('[project]\nname = "helper"\n')
    spec = read_project(tmp_path)
    assert [(r.name, r.origin.file) for r in spec.conda_pip] == [
        ("rich", "requirements-pip.txt"), ("helper", "environment.yml")]
    assert spec.conda_pip[1].path == "libs/helper"
    assert [i.path for i in spec.inputs] == [
        "environment.yml", "libs/helper/pyproject.toml", "requirements-pip.txt"]
    assert spec.pypi == ()  # included by the pip: section, so not read again on its own

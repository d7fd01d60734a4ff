from __future__ import annotations

import logging

import pytest
from packaging.requirements import Requirement

from dockyard.errors import SpecError
from dockyard.sources import parse_pyproject, to_pep440


@pytest.mark.parametrize("poetry, pep440", [
    ("^0.33.0", ">=0.33.0,<0.34.0"),
    ("^7.3.1", ">=7.3.1,<8.0.0"),
    ("^6.0.0", ">=6.0.0,<7.0.0"),
    ("^3.2", ">=3.2,<4.0"),
    ("^1", ">=1,<2"),
    ("^0.0.3", ">=0.0.3,<0.0.4"),
    ("^0", ">=0,<1"),
    ("^0.0", ">=0.0,<0.1"),
    ("~1.2", ">=1.2,<1.3"),
    ("~1.2.3", ">=1.2.3,<1.3.0"),
    ("~1", ">=1,<2"),
    ("~=1.2", "~=1.2"),
    ("^1.0.0rc1", ">=1.0.0rc1,<2.0.0"),
    ("~2.1b2", ">=2.1b2,<2.2"),
    ("*", ""),
    ("", ""),
    ("1.*", "==1.*"),
    ("1.2.*", "==1.2.*"),
    ("1.2.3", "==1.2.3"),
    ("=1.2.3", "==1.2.3"),
    ("==1.2.3", "==1.2.3"),
    (">=1.2,<2.0", ">=1.2,<2.0"),
    (">= 1.2, < 2.0", ">=1.2,<2.0"),
    (">=1.2 <2.0", ">=1.2,<2.0"),
    ("!=1.5", "!=1.5"),
    (">=2.0,!=2.1.*", ">=2.0,!=2.1.*"),
])
def test_to_pep440(poetry, pep440):
    assert to_pep440(poetry) == pep440


@pytest.mark.parametrize("bad", ["^1.x.y", ">=", "latest", "1 || 2"])
def test_to_pep440_refuses(bad):
    with pytest.raises(ValueError):
        to_pep440(bad)


def deps(doc):
    return {(r.group, r.name): r for r in parse_pyproject(doc).pypi}


def test_python_dependency_is_requires_python():
    part = parse_pyproject({"tool": {"poetry": {"dependencies": {"python": "^3.11", "rich": "*"}}}})
    assert part.requires_python == ">=3.11,<4.0"
    assert [r.name for r in part.pypi] == ["rich"]


def test_requires_python_of_both_tables_intersect():
    part = parse_pyproject({"project": {"requires-python": ">=3.10"},
                            "tool": {"poetry": {"dependencies": {"python": "<3.13"}}}})
    assert part.requires_python == "<3.13,>=3.10"


def test_dependency_forms():
    doc = {"tool": {"poetry": {
        "dependencies": {
            "python": "^3.11",
            "Dask": {"version": "^2024.1", "extras": ["distributed"], "python": ">=3.11"},
            "pkg": {"git": "https://h/pkg.git", "tag": "v1.0", "subdirectory": "py"},
            "at-rev": {"git": "git@github.com:o/r.git", "rev": "abc123"},
            "local": {"path": "../local", "develop": True},
            "wheel": {"url": "https://files.example/w-1.0-py3-none-any.whl"},
            "win": {"version": "*", "platform": "win32",
                    "markers": "implementation_name == 'cpython'"},
            "torch": {"version": "^2.6", "source": "pytorch"},
            "multi": [{"version": "^1", "python": "<3.12"},
                      {"version": "^2", "python": ">=3.12.1"}],
        },
        "source": [{"name": "pytorch", "url": "https://download.pytorch.org/whl/cu126",
                    "priority": "explicit"}],
    }}}
    part = parse_pyproject(doc)
    got = {}
    for r in part.pypi:
        got.setdefault(r.name, []).append(r)
    dask = got["dask"][0]
    assert (dask.specifier, dask.extras, dask.marker) == (
        ">=2024.1,<2025.0", ("distributed",), 'python_version >= "3.11"')
    assert (got["pkg"][0].git.kind, got["pkg"][0].git.ref, got["pkg"][0].git.subdirectory) == \
        ("tag", "v1.0", "py")
    assert got["at-rev"][0].git.url == "git@github.com:o/r.git"
    assert got["at-rev"][0].git.kind == "rev"
    assert got["local"][0].path == "../local"
    assert got["wheel"][0].url == "https://files.example/w-1.0-py3-none-any.whl"
    assert got["win"][0].marker == 'sys_platform == "win32" and implementation_name == \'cpython\''
    assert got["torch"][0].index == "pytorch"
    assert [(r.specifier, r.marker) for r in got["multi"]] == [
        (">=1,<2", 'python_version < "3.12"'),
        (">=2,<3", 'python_full_version >= "3.12.1"'),
    ]
    assert [str(r.origin) for r in got["multi"]] == [
        "pyproject.toml (tool.poetry.dependencies.multi[0])",
        "pyproject.toml (tool.poetry.dependencies.multi[1])",
    ]
    (index,) = part.indexes
    assert (index.name, index.explicit, index.default) == ("pytorch", True, False)
    for r in part.pypi:
        if r.path is None:
            Requirement(r.pep508())  # what uv is given parses as PEP 508


def test_groups_and_legacy_dev_dependencies():
    doc = {"tool": {"poetry": {
        "dev-dependencies": {"black": "^24"},
        "group": {"docs": {"optional": True, "dependencies": {"sphinx": "^7"}},
                  "ci": {"dependencies": {"nox": "*"}}},
    }}}
    part = parse_pyproject(doc)
    assert {(r.group, r.name) for r in part.pypi} == {("dev", "black"), ("docs", "sphinx"),
                                                      ("ci", "nox")}
    assert part.optional_groups == ("docs",)


def test_optional_dependencies_come_through_extras():
    doc = {"tool": {"poetry": {
        "dependencies": {"cupy": {"version": "^13", "optional": True}, "rich": "*",
                         "unused": {"version": "*", "optional": True}},
        "extras": {"gpu": ["cupy"]},
    }}}
    assert set(deps(doc)) == {("extra:gpu", "cupy"), ("main", "rich")}


@pytest.mark.parametrize("priority, explicit, default", [
    ("primary", False, True), ("supplemental", False, False), ("explicit", True, False),
    (None, False, True),
])
def test_source_priorities(priority, explicit, default):
    source = {"name": "corp", "url": "https://corp.example/simple"}
    if priority:
        source["priority"] = priority
    (index,) = parse_pyproject({"tool": {"poetry": {"source": [source]}}}).indexes
    assert (index.explicit, index.default) == (explicit, default)


def test_same_package_in_project_and_poetry_keeps_both():
    doc = {"project": {"dependencies": ["xesmf>=0.8"]},
           "tool": {"poetry": {"dependencies": {
               "xesmf": {"git": "https://github.com/pangeo-data/xESMF.git", "branch": "master"}}}}}
    xesmf = [r for r in parse_pyproject(doc).pypi if r.name == "xesmf"]
    assert [(r.specifier, r.git is not None, r.origin.field) for r in xesmf] == [
        (">=0.8", False, "project.dependencies[0]"),
        ("", True, "tool.poetry.dependencies.xesmf"),
    ]


def test_or_constraint_is_dropped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="dockyard"):
        (req,) = parse_pyproject({"tool": {"poetry": {"dependencies": {"a": "^1 || ^2"}}}}).pypi
    assert req.specifier == ""
    assert "PEP 440 cannot express" in caplog.text


def test_bad_constraint_names_the_dependency():
    with pytest.raises(SpecError) as info:
        parse_pyproject({"tool": {"poetry": {"dependencies": {"a": "latest"}}}})
    assert info.value.where == "pyproject.toml (tool.poetry.dependencies.a)"
    assert "'latest'" in info.value.message
    assert "^1.2" in info.value.hint


def test_git_with_branch_and_tag_is_refused():
    with pytest.raises(SpecError, match="sets branch and tag"):
        parse_pyproject({"tool": {"poetry": {"dependencies": {
            "a": {"git": "https://h/a.git", "branch": "main", "tag": "v1"}}}}})


def test_source_pypi_is_the_implicit_index():
    (req,) = parse_pyproject({"tool": {"poetry": {"dependencies": {
        "rich": {"version": "*", "source": "PyPI"}}}}}).pypi
    assert req.index is None

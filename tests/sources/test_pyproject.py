from __future__ import annotations

import pytest
from packaging.markers import Marker

from dockyard.errors import SpecError
from dockyard.sources import parse_pyproject, toml_positions
from dockyard.sources.locate import Positions
from dockyard.sources.readers import loads_toml


def test_pep621_dependencies_extras_and_direct_references():
    doc = {"project": {
        "name": "demo", "requires-python": ">=3.11",
        "dependencies": [
            "numpy (>=1.25,<2.0.0)",
            "Pillow[webp]>=10 ; sys_platform == 'linux'",
            "pkg @ git+https://github.com/o/pkg.git@v2#subdirectory=python",
            "wheel @ https://files.example/wheel-1.0-py3-none-any.whl",
            "local @ file:///abs/local",
            "rel @ ./vendor/rel",
        ],
        "optional-dependencies": {"gpu": ["cupy-cuda12x>=13"]},
    }}
    part = parse_pyproject(doc)
    assert (part.name, part.requires_python) == ("demo", ">=3.11")
    reqs = {r.name: r for r in part.pypi}
    assert reqs["numpy"].specifier == "<2.0.0,>=1.25"
    assert (reqs["pillow"].extras, reqs["pillow"].marker) == (("webp",), 'sys_platform == "linux"')
    git = reqs["pkg"].git
    assert (git.url, git.kind, git.ref, git.subdirectory) == \
        ("https://github.com/o/pkg.git", "rev", "v2", "python")
    assert reqs["wheel"].url == "https://files.example/wheel-1.0-py3-none-any.whl"
    assert reqs["local"].path == "/abs/local"
    assert reqs["rel"].path == "vendor/rel"
    assert reqs["cupy-cuda12x"].group == "extra:gpu"
    assert str(reqs["cupy-cuda12x"].origin) == \
        "pyproject.toml (project.optional-dependencies.gpu[0])"


def test_dependency_groups_expand_includes():
    doc = {"dependency-groups": {
        "test": ["pytest>=8", {"include-group": "lint"}],
        "lint": ["ruff"],
    }}
    part = parse_pyproject(doc)
    assert [(r.group, r.name) for r in part.pypi] == [
        ("test", "pytest"), ("test", "ruff"), ("lint", "ruff")]
    assert part.optional_groups == ("test", "lint")


def test_dependency_group_cycle_and_missing_include():
    with pytest.raises(SpecError, match="include each other: a -> b -> a"):
        parse_pyproject({"dependency-groups": {"a": [{"include-group": "b"}],
                                               "b": [{"include-group": "a"}]}})
    with pytest.raises(SpecError) as info:
        parse_pyproject({"dependency-groups": {"a": [{"include-group": "nope"}]}})
    assert "'nope', which does not exist" in info.value.message
    assert info.value.hint == "defined groups: a"


def test_uv_sources_and_indexes():
    doc = {
        "project": {"dependencies": ["torch>=2.6", "xrpatcher", "helper", "member", "plain",
                                     "both"]},
        "tool": {"uv": {
            "sources": {
                "torch": [{"index": "pytorch-cu126", "marker": "sys_platform == 'linux'"},
                          {"index": "pytorch-cpu", "marker": "sys_platform == 'darwin'"}],
                "xrpatcher": {"git": "https://github.com/jejjohnson/xrpatcher.git",
                              "branch": "main"},
                "helper": {"path": "libs/helper", "editable": True},
                "member": {"workspace": True},
                "both": {"url": "https://files.example/both-1.0.tar.gz"},
            },
            "index": [{"name": "pytorch-cu126", "url": "https://download.pytorch.org/whl/cu126",
                       "explicit": True},
                      {"name": "corp", "url": "https://corp.example/simple", "default": True}],
        }},
    }
    part = parse_pyproject(doc, members={"member": "packages/member"})
    reqs: dict[str, list] = {}
    for r in part.pypi:
        reqs.setdefault(r.name, []).append(r)
    assert [(r.index, r.marker, r.specifier) for r in reqs["torch"]] == [
        ("pytorch-cu126", "sys_platform == 'linux'", ">=2.6"),
        ("pytorch-cpu", "sys_platform == 'darwin'", ">=2.6"),
        (None, "sys_platform != 'linux' and sys_platform != 'darwin'", ">=2.6"),
    ]
    for r in reqs["torch"]:
        Marker(r.marker)  # valid PEP 508
    assert reqs["xrpatcher"][0].git.ref == "main"
    assert reqs["helper"][0].path == "libs/helper"
    assert reqs["member"][0].path == "packages/member"
    assert reqs["both"][0].url == "https://files.example/both-1.0.tar.gz"
    assert reqs["plain"][0].git is None and reqs["plain"][0].index is None
    assert [(i.name, i.explicit, i.default) for i in part.indexes] == [
        ("pytorch-cu126", True, False), ("corp", False, True)]


def test_uv_workspace_source_without_member():
    doc = {"project": {"dependencies": ["member"]},
           "tool": {"uv": {"sources": {"member": {"workspace": True}}}}}
    with pytest.raises(SpecError, match="no workspace member"):
        parse_pyproject(doc)


def test_bad_requirement_names_file_line_and_index():
    text = '[project]\nname = "x"\ndependencies = [\n  "ok",\n  "numpy >= = 1",\n]\n'
    doc = loads_toml(text, "pyproject.toml")
    with pytest.raises(SpecError) as info:
        parse_pyproject(doc, Positions("pyproject.toml", toml_positions(text)))
    err = info.value
    assert err.where == "pyproject.toml:5 (project.dependencies[1])"
    assert "not a valid PEP 508 requirement: 'numpy >= = 1'" in err.message
    assert "NAME[EXTRAS] SPECIFIER" in err.hint


def test_bad_requires_python():
    with pytest.raises(SpecError, match="requires-python is not a PEP 440 specifier"):
        parse_pyproject({"project": {"requires-python": "3.11+"}})


def test_dependencies_must_be_strings():
    with pytest.raises(SpecError, match="expected a list of requirement strings"):
        parse_pyproject({"project": {"dependencies": "numpy"}})


def test_uv_sources_with_compound_markers_have_no_residual():
    doc = {"project": {"dependencies": ["torch"]},
           "tool": {"uv": {"sources": {"torch": [
               {"index": "a", "marker": "sys_platform == 'linux' and platform_machine == 'x86_64'"},
           ]}}}}
    assert [r.index for r in parse_pyproject(doc).pypi] == ["a"]


def test_uv_legacy_dev_dependencies():
    part = parse_pyproject({"project": {"dependencies": ["rich"]},
                            "tool": {"uv": {"dev-dependencies": ["pytest>=8"]}}})
    assert [(r.group, r.name, r.origin.field) for r in part.pypi] == [
        ("main", "rich", "project.dependencies[0]"),
        ("dev", "pytest", "tool.uv.dev-dependencies[0]")]
    assert part.optional_groups == ("dev",)

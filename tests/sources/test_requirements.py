from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.sources import parse_requirements
from dockyard.sources.requirements import group_of, logical_lines

TEXT = """\
# comment line
--index-url https://pypi.example/simple
--extra-index-url=https://download.pytorch.org/whl/cu126
-r base.txt
-c constraints.txt

numpy>=1.25,<2 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
requests[socks] ; python_version >= "3.11"   # inline comment
-e ./libs/mine
git+https://github.com/o/tool.git@v1.2#egg=tool&subdirectory=py
https://files.example/pkg/wheelie-1.0-py3-none-any.whl
https://files.example/pkg/sdisty-2.0.tar.gz
--pre
"""
FILES = {"base.txt": "xarray>=2024\n", "constraints.txt": "pyarrow<26\n"}


def test_requirement_lines():
    part = parse_requirements(TEXT, "requirements.txt", read_include=FILES.__getitem__,
                              name_of_path={"libs/mine": "My_Lib"}.get)
    reqs = {r.name: r for r in part.pypi}
    assert list(reqs) == ["xarray", "numpy", "requests", "my-lib", "tool", "wheelie", "sdisty"]
    assert reqs["xarray"].origin.file == "base.txt"
    assert reqs["numpy"].specifier == "<2,>=1.25"
    assert reqs["numpy"].origin.line == 7
    assert (reqs["requests"].extras, reqs["requests"].marker) == \
        (("socks",), 'python_version >= "3.11"')
    assert reqs["requests"].origin.line == 10
    assert reqs["my-lib"].path == "libs/mine"
    git = reqs["tool"].git
    assert (git.url, git.ref, git.subdirectory) == ("https://github.com/o/tool.git", "v1.2", "py")
    assert reqs["wheelie"].url.endswith("wheelie-1.0-py3-none-any.whl")
    assert [(c.name, c.specifier) for c in part.constraints] == [("pyarrow", "<26")]
    assert [(i.url, i.default) for i in part.indexes] == [
        ("https://pypi.example/simple", True),
        ("https://download.pytorch.org/whl/cu126", False)]
    assert part.includes == ("base.txt", "constraints.txt")


def test_includes_are_relative_to_the_including_file():
    files = {"reqs/dev.txt": "-r ../base.txt\npytest\n", "base.txt": "rich\n"}
    part = parse_requirements("-r reqs/dev.txt\n", read_include=files.__getitem__)
    assert [(r.name, r.origin.file) for r in part.pypi] == [("rich", "base.txt"),
                                                           ("pytest", "reqs/dev.txt")]


def test_logical_lines_join_continuations_and_drop_comments():
    text = "a \\\n  >=1\n# x\n\nb # y\nurl#frag\n"
    assert list(logical_lines(text)) == [(1, "a   >=1"), (5, "b"), (6, "url#frag")]


def test_group_of():
    assert group_of("requirements.txt") == "main"
    assert group_of("requirements-dev.txt") == "dev"
    assert group_of("requirements_test.txt") == "test"


@pytest.mark.parametrize("text, message", [
    ("numpy >= = 1\n", "not a valid PEP 508 requirement"),
    ("--frobnicate\n", "unknown option '--frobnicate'"),
    ("-r\n", "-r needs a file name"),
    ("-e ./somewhere\n", "cannot tell which package './somewhere' is"),
    ("git+https://github.com/o/r.git\n", "cannot tell which package"),
])
def test_bad_lines(text, message):
    with pytest.raises(SpecError, match=message) as info:
        parse_requirements("ok\n" + text, "requirements.txt")
    assert info.value.where.startswith("requirements.txt:2")
    assert info.value.hint


def test_includes_inside_a_constraints_file_are_constraints():
    files = {"c.txt": "-r c2.txt\na<2\n", "c2.txt": "b<3\n"}
    part = parse_requirements("-c c.txt\nx\n", read_include=files.__getitem__)
    assert [r.name for r in part.pypi] == ["x"]
    assert [(r.name, r.origin.file) for r in part.constraints] == [("b", "c2.txt"), ("a", "c.txt")]

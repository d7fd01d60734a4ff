from __future__ import annotations

import textwrap

import yaml

from dockyard.sources import Positions, format_field, toml_positions, yaml_positions

TOML = textwrap.dedent('''\
    # a comment with = and [brackets]
    [project]
    name = "x"
    dependencies = [
        "a>=1",  # trailing ] comment
        'b[c] ; python_version < "3.12"',
        """c""",
    ]

    [project.optional-dependencies]
    gpu = ["cupy", "numba"]

    [tool.poetry.group.dev.dependencies]
    "pytest-cov" = "^6"
    xesmf = { git = "https://h/x.git", branch = "master" }
    multi = [
      { version = "^1", python = "<3.12" },
      { version = "^2", python = ">=3.12" },
    ]

    [[tool.poetry.source]]
    name = "one"
    url = "https://one"

    [[tool.poetry.source]]
    name = "two"
    url = "https://two"

    [tool.x]
    dotted.key = 1
    s = """multi
    line = [not a key]
    """
    after = 2
    ''')


def test_toml_keys_and_elements():
    pos = toml_positions(TOML)
    assert pos[("project",)] == 2
    assert pos[("project", "name")] == 3
    assert [pos[("project", "dependencies", i)] for i in range(3)] == [5, 6, 7]
    assert pos[("project", "optional-dependencies", "gpu", 1)] == 11
    assert pos[("tool", "poetry", "group", "dev", "dependencies", "pytest-cov")] == 14
    assert pos[("tool", "poetry", "group", "dev", "dependencies", "xesmf", "branch")] == 15
    assert pos[("tool", "poetry", "group", "dev", "dependencies", "multi", 1)] == 18
    assert pos[("tool", "poetry", "source", 0, "name")] == 22
    assert pos[("tool", "poetry", "source", 1)] == 25
    assert pos[("tool", "poetry", "source", 1, "url")] == 27
    assert pos[("tool", "x", "dotted", "key")] == 30
    assert pos[("tool", "x", "after")] == 34
    assert ("tool", "x", "line") not in pos


def test_positions_fall_back_to_the_nearest_parent():
    where = Positions("pyproject.toml", toml_positions(TOML))
    origin = where(("project", "dependencies", 9))
    assert (origin.line, origin.field) == (4, "project.dependencies[9]")
    assert where(("nothing",)).line is None


def test_format_field_quotes_odd_keys():
    assert format_field(("tool", "poetry", "source", 0, "url")) == "tool.poetry.source[0].url"
    assert format_field(("tool", "poetry", "dependencies", "zope.interface")) == \
        'tool.poetry.dependencies."zope.interface"'


def test_yaml_positions():
    text = "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n  - pip:\n    - rich\n"
    pos = yaml_positions(yaml.compose(text, Loader=yaml.SafeLoader))
    assert pos[("channels", 0)] == 3
    assert pos[("dependencies", 1, "pip", 0)] == 7


def all_paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from all_paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from all_paths(v, path + (i,))


TRICKY = '''\
"quoted.key" = 1
a."b.c".d = 'x'
arr = ["x \\" ] #", 'y ] #', """z
]""", [1, [2, 3]], {k = "v}"}]
nested = { inner = { deep = [1, 2] } }
[[fruit]]
name = "apple"
[fruit.physical]
color = "red"
[[fruit.variety]]
name = "red delicious"
[[fruit]]
name = "banana"
[[fruit.variety]]
name = "plantain"
'''


def test_every_toml_path_has_a_line():
    import tomllib

    from .conftest import CASE, PROJECTS

    texts = [TOML, TRICKY, (CASE / "pyproject.toml").read_text()]
    texts += [p.read_text() for p in PROJECTS.glob("*/*.toml")]
    texts += [p.read_text() for p in PROJECTS.glob("*/*.lock")]
    for text in texts:
        pos = toml_positions(text)
        missing = [p for p in all_paths(tomllib.loads(text)) if p and p not in pos]
        assert missing == []


def test_tricky_toml_lines():
    pos = toml_positions(TRICKY)
    assert pos[("quoted.key",)] == 1
    assert pos[("a", "b.c", "d")] == 2
    assert [pos[("arr", i)] for i in range(5)] == [3, 3, 3, 4, 4]
    assert pos[("arr", 3, 1, 0)] == 4
    assert pos[("nested", "inner", "deep", 1)] == 5
    assert pos[("fruit", 0, "physical", "color")] == 9
    assert pos[("fruit", 0, "variety", 0, "name")] == 11
    assert pos[("fruit", 1, "variety", 0, "name")] == 15

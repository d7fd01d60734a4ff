from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.sources import parse_settings, read_project, read_settings
from dockyard.spec import Settings

FULL = '''\
[target]
platform = "linux-64"
python = "3.12"
glibc = "2.28"
cuda = "12.6"
base = "registry.example/cuda12.6-jupyter-py3.13:2026.11"

[install]
groups = ["dev"]
extras = []
constraints = ["pyarrow<26"]
honour-project-lock = true

[sources]
xesmf = "conda"
Some_Pkg = "pypi"

[conda]
channels = ["conda-forge"]
channel-priority = "strict"

[[index]]
name = "pytorch-cu126"
url = "https://download.pytorch.org/whl/cu126"
explicit = true

[routes]
torch = "pytorch-cu126"

[cuda]
accept-mismatch = false
'''


def test_full_schema(tmp_path):
    path = tmp_path / "dockyard.toml"
    path.write_text(FULL)
    s = read_settings(path)
    assert (s.platform, s.python, s.glibc, s.cuda) == ("linux-64", "3.12", "2.28", "12.6")
    assert s.base == "registry.example/cuda12.6-jupyter-py3.13:2026.11"
    assert (s.groups, s.extras, s.constraints) == (("dev",), (), ("pyarrow<26",))
    assert s.sources == (("some-pkg", "pypi"), ("xesmf", "conda"))
    assert s.source_for("xesmf") == "conda"
    assert (s.channels, s.channel_priority) == (("conda-forge",), "strict")
    (index,) = s.indexes
    assert (index.name, index.explicit, index.default) == ("pytorch-cu126", True, False)
    assert index.origin.line == 22
    assert s.routes == (("torch", "pytorch-cu126"),)
    assert (s.honour_project_lock, s.accept_cuda_mismatch) == (True, False)


def test_empty_file_gives_the_defaults():
    assert parse_settings({}) == Settings(origin=parse_settings({}).origin)


def err_of(text, tmp_path):
    path = tmp_path / "dockyard.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        read_settings(path)
    return info.value


def test_float_cuda(tmp_path):
    err = err_of("[target]\nplatform = \"linux-64\"\ncuda = 12.6\n", tmp_path)
    assert err.where == "dockyard.toml:3"
    assert err.message == 'target.cuda: expected a string like "12.6", got 12.6'
    assert err.hint == 'write cuda = "12.6"'


def test_float_python_that_lost_its_zero(tmp_path):
    err = err_of("[target]\npython = 3.10\n", tmp_path)
    assert err.message == 'target.python: expected a string like "3.12", got 3.1'


def test_unknown_key_lists_the_valid_ones(tmp_path):
    err = err_of("[target]\npython = \"3.12\"\ncudaa = \"12.6\"\n", tmp_path)
    assert err.where == "dockyard.toml:3"
    assert err.message == "target.cudaa: unknown key 'cudaa' in the [target]"
    assert err.hint == "valid keys: platform, python, glibc, cuda, base"


def test_unknown_table(tmp_path):
    err = err_of("[tool]\nx = 1\n", tmp_path)
    assert err.message == "tool: unknown key 'tool' in the top level"
    assert err.hint == ("valid keys: target, install, conda, index, cuda, secrets, sources, "
                        "routes, cluster")


@pytest.mark.parametrize("doc, message", [
    ({"target": {"platform": "linux64"}}, "target.platform: expected one of linux-64"),
    ({"target": "x"}, "target: expected a table [target], got 'x'"),
    ({"install": {"groups": "dev"}}, "install.groups: expected a list of group names"),
    ({"install": {"honour-project-lock": "yes"}},
 "install.honour-project-lock: expected true or false, got 'yes'"),
    ({"install": {"constraints": ["pyarrow <<26"]}}, "install.constraints[0]: not a PEP 508"),
    ({"sources": {"xesmf": "pip"}}, 'sources.xesmf: expected "conda" or "pypi", got \'pip\''),
    ({"conda": {"channel-priority": "strong"}}, "conda.channel-priority: expected one of"),
    ({"index": {"name": "x"}}, "index: expected [[index]] entries"),
    ({"index": [{"name": "x"}]}, "index[0]: an [[index]] needs a url"),
    ({"index": [{"name": "x", "url": "https://x", "priority": 1}]},
     "index[0].priority: unknown key 'priority'"),
    ({"index": [{"name": "x", "url": "https://x"}, {"name": "x", "url": "https://y"}]},
     "index[1].name: index name 'x' is used twice"),
    ({"cuda": {"accept-mismatch": 1}}, "cuda.accept-mismatch: expected true or false, got 1"),
])
def test_bad_values(doc, message):
    with pytest.raises(SpecError) as info:
        parse_settings(doc)
    assert info.value.message.startswith(message)
    assert info.value.where == "dockyard.toml"
    assert info.value.hint


def test_route_to_an_undeclared_index(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["torch"]\n')
    (tmp_path / "dockyard.toml").write_text('[routes]\ntorch = "pytorch"\n')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    err = info.value
    assert err.where == "dockyard.toml:2"
    assert err.message == "routes.torch: no index named 'pytorch' is declared"
    assert "[[index]]" in err.hint and "(no indexes declared)" in err.hint


def test_route_to_an_index_declared_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["torch"]\n'
        '[[tool.uv.index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cu126"\n')
    (tmp_path / "dockyard.toml").write_text('[routes]\ntorch = "pytorch"\n')
    assert read_project(tmp_path).settings.routes == (("torch", "pytorch"),)


def test_poetry_source_that_is_not_declared(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\ntorch = { version = "^2.6", source = "pytorch" }\n')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.where == "pyproject.toml:2 (tool.poetry.dependencies.torch)"
    assert "asks for source 'pytorch', which is not declared" in info.value.message


def test_groups_and_extras_must_exist(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["rich"]\n'
        '[project.optional-dependencies]\ngpu = ["cupy"]\n'
        '[dependency-groups]\ndev = ["pytest"]\n')
    (tmp_path / "dockyard.toml").write_text('[install]\ngroups = ["docs"]\n')
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    assert info.value.where == "dockyard.toml:2"
    assert info.value.message == "install.groups: the project has no group 'docs'"
    assert info.value.hint == "remove it (groups: dev, main)"
    (tmp_path / "dockyard.toml").write_text('[install]\nextras = ["cpu"]\n')
    with pytest.raises(SpecError, match="no extra 'cpu'") as info:
        read_project(tmp_path)
    assert info.value.hint == "remove it (extras: gpu)"


def test_settings_path_and_inputs(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    other = tmp_path / "deploy" / "gpu.toml"
    other.parent.mkdir()
    other.write_text('[target]\ncuda = "12.6"\n')
    spec = read_project(tmp_path, other)
    assert spec.settings.cuda == "12.6"
    assert [i.path for i in spec.inputs] == ["deploy/gpu.toml", "pyproject.toml"]
    (tmp_path / "dockyard.toml").write_text("[target]\ncuda = 12.6\n")
    assert read_project(tmp_path, with_settings=False).settings == Settings()

from __future__ import annotations

import pytest
import yaml

from dockyard.errors import SpecError
from dockyard.sources import parse_environment, read_yaml
from dockyard.sources.locate import Positions, yaml_positions

from .conftest import CASE


def parse_text(text, **kw):
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return parse_environment(yaml.safe_load(text),
                             Positions("environment.yml", yaml_positions(node)), **kw)


def test_conda_specs_channels_and_pip_section():
    doc = {
        "name": "demo",
        "channels": ["conda-forge", "bioconda", "nodefaults"],
        "channel_priority": "flexible",
        "dependencies": [
            "python=3.12",
            "conda-forge::esmpy >=8.6",
            "numpy<2",
            "pytorch-gpu[build=cuda*]",
            {"pip": ["--extra-index-url https://download.pytorch.org/whl/cu126",
                     "torch==2.7.0",
                     "-e git+https://github.com/o/tool.git@main#egg=tool"]},
        ],
    }
    part = parse_environment(doc)
    assert part.name == "demo"
    assert part.channels == ("conda-forge", "bioconda")
    assert part.channel_priority == "flexible"
    assert [(c.name, c.spec, c.channel) for c in part.conda] == [
        ("python", "python 3.12.*", None),
        ("esmpy", "esmpy >=8.6", "conda-forge"),
        ("numpy", "numpy <2", None),
        ("pytorch-gpu", 'pytorch-gpu[build="cuda*"]', None),
    ]
    assert [(r.name, r.specifier) for r in part.conda_pip] == [("torch", "==2.7.0"),
                                                               ("tool", "")]
    assert part.conda_pip[1].git.ref == "main"
    assert [(i.url, i.default) for i in part.indexes] == [
        ("https://download.pytorch.org/whl/cu126", False)]


def test_origins_point_at_lines():
    text = ("name: x\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n"
            "  - pip:\n    - rich>=13\n")
    part = parse_text(text)
    assert str(part.conda[0].origin) == "environment.yml:5 (dependencies[0])"
    assert str(part.conda_pip[0].origin) == "environment.yml:7 (dependencies[1].pip[0])"


def test_unparsable_match_spec_suggests_the_conda_form():
    text = (CASE / "environment.yml").read_text()
    with pytest.raises(SpecError) as info:
        parse_text(text)
    err = info.value
    assert err.where == "environment.yml:7 (dependencies[0])"
    assert err.message.startswith("""'python(">=3.11.0,<3.14.0")' is not a conda match spec""")
    assert err.hint == "write it as a conda match spec: `python >=3.11.0,<3.14.0`"


def test_other_bad_match_spec_gets_the_general_hint():
    with pytest.raises(SpecError) as info:
        parse_environment({"dependencies": ["@@@"]})
    assert "NAME >=LOW,<HIGH" in info.value.hint


def test_as_posted_file_is_cut_off(tmp_path):
    with pytest.raises(SpecError) as info:
        read_yaml(CASE / "environment.as-posted.yml", "environment.yml")
    err = info.value
    assert err.where == "environment.yml:2"
    assert err.message.startswith("not valid YAML: the file starts in the middle of a list, "
                                  "so it looks cut off")
    assert "top-level keys (`name:`, `channels:`) are missing" in err.hint


def test_plain_yaml_error_gets_a_syntax_hint(tmp_path):
    path = tmp_path / "environment.yml"
    path.write_text("name: x\ndependencies:\n  - numpy\n   - scipy: [\n")
    with pytest.raises(SpecError) as info:
        read_yaml(path)
    assert info.value.where.startswith("environment.yml:")
    assert "indentation" in info.value.hint


@pytest.mark.parametrize("doc, message", [
    (["numpy"], "expected a mapping"),
    ({"channel": ["x"]}, "unknown top-level key 'channel'"),
    ({"channels": "conda-forge"}, "channels: expected a list"),
    ({"channel_priority": "strong"}, "channel_priority: expected one of strict"),
    ({"dependencies": "numpy"}, "dependencies: expected a list"),
    ({"dependencies": [{"conda": ["x"]}]}, "unexpected dependency entry"),
])
def test_bad_environment_shapes(doc, message):
    with pytest.raises(SpecError, match=message):
        parse_environment(doc)

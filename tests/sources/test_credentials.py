"""A token in any URL never reaches the spec, a message or a log line."""

from __future__ import annotations

import logging

import pytest

from dockyard.errors import SpecError
from dockyard.sources import parse_environment, parse_pyproject, parse_requirements, parse_settings

TOKEN = "ghp_S3cr3tT0ken"


def test_tokens_are_stripped_from_everything_read(caplog):
    caplog.set_level(logging.DEBUG, logger="dockyard")
    pyproject = parse_pyproject({
        "project": {"dependencies": [f"pkg @ git+https://me:{TOKEN}@github.com/o/pkg.git@v1"]},
        "tool": {"poetry": {
            "dependencies": {"priv": {"git": f"https://{TOKEN}@gitlab.example/g/priv.git",
                                      "branch": "main"},
                             "arch": {"url": f"https://u:{TOKEN}@files.example/a-1.tar.gz"}},
            "source": [{"name": "corp", "url": f"https://u:{TOKEN}@corp.example/simple"}]},
            "uv": {"index": [{"name": "uvcorp", "url": f"https://u:{TOKEN}@uv.example/simple"}]}},
    })
    env = parse_environment({
        "channels": [f"https://conda.example/t/{TOKEN}/private", f"https://u:{TOKEN}@c.example/x"],
        "dependencies": [f"https://conda.example/t/{TOKEN}/private::secretpkg", {"pip": [
        f"--index-url https://u:{TOKEN}@pip.example/simple",
        f"git+https://oauth2:{TOKEN}@gitlab.example/g/tool.git@main#egg=tool",
        "pkg @ https://files.example/p-1.0.tar.gz?token=" + TOKEN,
        "--pre",
    ]}]})
    reqs = parse_requirements(f"--extra-index-url https://u:{TOKEN}@x.example/simple\n"
                              f"thing @ git+https://u:{TOKEN}@h.example/t.git\n")
    settings = parse_settings({"index": [{"name": "s", "url": f"https://u:{TOKEN}@s.example/"}],
                               "conda": {"channels": [f"https://h.example/t/{TOKEN}/ch"]}})
    text = repr((pyproject, env, reqs, settings)) + caplog.text
    assert TOKEN not in text
    assert "github.com/o/pkg.git" in text and "pip.example/simple" in text
    assert env.channels == ("https://conda.example/private", "https://c.example/x")
    assert env.conda[0].channel == "https://conda.example/private"
    assert settings.channels == ("https://h.example/ch",)


@pytest.mark.parametrize("parse", [
    lambda: parse_requirements(f"--frob=https://u:{TOKEN}@h\n"),
    lambda: parse_requirements(f"bad @@ https://u:{TOKEN}@h/x\n"),
    lambda: parse_requirements(f"https://u:{TOKEN}@h/download\n"),
    lambda: parse_pyproject({"project": {"dependencies": [f"x @ https://u:{TOKEN}@h/ x"]}}),
    lambda: parse_environment({"dependencies": [f"https://u:{TOKEN}@h::x y z["]}),
    lambda: parse_environment({"dependencies": [f"https://h/t/{TOKEN}/c::x y z["]}),
    lambda: parse_settings({"index": [{"name": "s", "url": f"u:{TOKEN}@nowhere"}]}),
    lambda: parse_settings({"install": {"constraints": [f"x @ https://u:{TOKEN}@h/ x"]}}),
])
def test_tokens_never_appear_in_error_texts(parse):
    with pytest.raises(SpecError) as info:
        parse()
    err = info.value
    assert TOKEN not in f"{err} {err.message} {err.where} {err.hint}"

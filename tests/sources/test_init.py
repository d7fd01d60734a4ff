"""`dockyard init`: a commented dockyard.toml that reads back; the project is left alone."""

from __future__ import annotations

import hashlib
import io
import re

from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui
from dockyard.sources import TOOLS, read_project, read_settings
from dockyard.sources.initfile import render_settings
from dockyard.spec import Settings


def quiet_ui() -> tuple[Ui, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Ui(Console(file=out, width=200), Console(file=err, width=200)), out, err


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_on_the_founding_case(fixed_case):
    before = snapshot(fixed_case)
    ui, out, _ = quiet_ui()
    assert main(["init", "--project", str(fixed_case)], ui) == 0
    after = snapshot(fixed_case)
    assert after.pop("dockyard.toml")
    assert after == before  # the project's own files are untouched
    assert "wrote" in out.getvalue() and "environment.yml, pyproject.toml" in out.getvalue()

    text = (fixed_case / "dockyard.toml").read_text()
    settings = read_settings(fixed_case / "dockyard.toml")
    assert settings == Settings(python="3.12", origin=settings.origin)
    assert "environment.yml pins 'python 3.12.11.*' at environment.yml:8" in text
    assert "# Optional groups you may add: dev." in text
    assert "# Groups installed by default: main, custom." in text
    assert '# xesmf = "pypi"' in text and "environment.yml:10" in text
    assert "# poetry: build/environment tools, not installed in the image." in text
    assert '# cuda = "12.6"' in text and "# base = " in text
    assert '# channels = ["conda-forge"]' in text
    # and the whole project, with it, still reads
    assert read_project(fixed_case).settings.python == "3.12"


def uncommented(text: str) -> str:
    """Every commented TOML line of the template made active."""
    pattern = re.compile(r"^# (\[\[?[a-z]+\]\]?|[A-Za-z0-9_-]+ = .*)$")
    return "\n".join(m[1] if (m := pattern.match(line)) else line
                     for line in text.splitlines()) + "\n"


def test_every_commented_setting_is_valid_when_uncommented(fixed_case, tmp_path):
    text = uncommented(render_settings(read_project(fixed_case), TOOLS))
    path = tmp_path / "dockyard.toml"
    path.write_text(text)
    s = read_settings(path)
    assert (s.cuda, s.sources, s.routes) == ("12.6", (("xesmf", "pypi"),),
                                             (("torch", "pytorch-cu126"),))
    assert s.base == "registry.example/cuda12.6-jupyter-py3.13:2026.11"


def test_refuses_to_overwrite_without_force(fixed_case):
    (fixed_case / "dockyard.toml").write_text("# mine\n")
    ui, _, err = quiet_ui()
    assert main(["init", "--project", str(fixed_case)], ui) == 2
    assert "dockyard.toml already exists" in err.getvalue()
    assert "--force" in err.getvalue()
    assert (fixed_case / "dockyard.toml").read_text() == "# mine\n"


def test_force_replaces_even_a_broken_one(fixed_case):
    (fixed_case / "dockyard.toml").write_text("[target]\ncuda = 12.6\n")
    ui, _, _ = quiet_ui()
    assert main(["init", "--project", str(fixed_case), "--force"], ui) == 0
    assert read_settings(fixed_case / "dockyard.toml").python == "3.12"


def test_bad_project_is_reported_and_nothing_written(case):
    ui, _, err = quiet_ui()
    assert main(["init", "--project", str(case)], ui) == 2
    assert "environment.yml:7" in err.getvalue()
    assert not (case / "dockyard.toml").exists()


def test_projects_without_conda_or_pin(project):
    texts = {}
    for name in ("uv-locked", "poetry-locked", "requirements-only"):
        root = project(name)
        ui, _, _ = quiet_ui()
        assert main(["init", "--project", str(root)], ui) == 0
        texts[name] = (root / "dockyard.toml").read_text()
        assert read_settings(root / "dockyard.toml").python is None  # nothing pins one
        (root / "all.toml").write_text(uncommented(texts[name]))
        read_settings(root / "all.toml")
    text = texts["uv-locked"]
    assert "requires-python '>=3.12' allows 3.12, 3.13, 3.14" in text
    assert "uv.lock: 6 pinned versions, honoured" in text
    assert "Optional groups you may add: dev." in text
    assert "pytorch-cu126 (pyproject.toml:18 (tool.uv.index[0]))" in text


def test_render_without_conda_suggests_the_lowest_allowed_python():
    from dockyard.spec import ProjectSpec

    text = render_settings(ProjectSpec(root="/p", requires_python=">=3.11,<3.13"))
    assert "requires-python '>=3.11,<3.13' allows 3.11, 3.12." in text
    assert '\n# python = "3.11"\n' in text
    assert "# No package is asked for from both conda and PyPI" in text

"""`dockyard lock` through the CLI on small projects: writing, --check, failure safety."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui
from dockyard.testing.channel import build_channel, founding_case_packages, serve_channel
from dockyard.testing.cli import recording_ui

pytestmark = pytest.mark.network


def ui() -> tuple[Ui, Console, Console]:
    return recording_ui(200)


def test_lock_then_check_then_a_failed_run_keeps_the_old_lock(tmp_path):
    (tmp_path / "requirements.txt").write_text("rich>=13\n")
    (tmp_path / "dockyard.toml").write_text(
        '[target]\npython = "3.12"\n[install]\nkernel = false\n')
    assert main(["lock", "--project", str(tmp_path), "--check"], ui()[0]) == 1  # missing
    u, out, _ = ui()
    assert main(["lock", "--project", str(tmp_path)], u) == 0
    text = out.export_text()
    assert "wrote" in text and "0 conda, 4 PyPI packages" in text
    lock = (tmp_path / "dockyard.lock").read_bytes()
    assert (tmp_path / "dockyard.lock").stat().st_mode & 0o044  # readable like the project's
    assert main(["lock", "--project", str(tmp_path), "--check"], ui()[0]) == 0

    (tmp_path / "requirements.txt").write_text("rich>=13\ndockyard-no-such-package-zz\n")
    assert main(["lock", "--project", str(tmp_path), "--check"], ui()[0]) == 1  # stale
    u, _, err = ui()
    assert main(["lock", "--project", str(tmp_path)], u) == 2
    message = err.export_text()
    assert "requirements.txt:2" in message and "dockyard-no-such-package-zz" in message
    assert (tmp_path / "dockyard.lock").read_bytes() == lock
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dockyard.lock", "dockyard.toml", "requirements.txt"]


def test_conda_only_project_over_http_and_a_settings_file(tmp_path):
    channel = build_channel(tmp_path / "channel", founding_case_packages())
    project = tmp_path / "proj"
    project.mkdir()
    (project / "environment.yml").write_text(
        "channels:\n  - conda-forge\ndependencies:\n  - esmpy\n  - numpy <2\n  - poetry\n")
    with serve_channel(Path(channel.removeprefix("file://"))) as url:
        settings = tmp_path / "deploy.toml"
        settings.write_text(f'[conda]\nchannels = ["{url}"]\n')
        u, out, _ = ui()
        assert main(["lock", "--project", str(project), "--settings", str(settings)], u) == 0
    text = (project / "dockyard.lock").read_text()
    assert 'name = "esmpy"' in text and 'version = "1.26.4"' in text
    assert 'name = "poetry"' not in text and "not a runtime dependency" in out.export_text()
    assert main(["lock", "--project", str(project), "--settings", str(settings),
                 "--check"], ui()[0]) == 0


def test_the_kernel_package_is_added_unless_switched_off(tmp_path):
    """The image registers the env as a Jupyter kernel, so the lock carries ipykernel."""
    from dockyard.lock.model import loads

    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "dockyard.toml").write_text('[target]\npython = "3.12"\n')
    assert main(["lock", "--project", str(tmp_path)], ui()[0]) == 0
    lock = loads((tmp_path / "dockyard.lock").read_text())
    kernel = lock.get("ipykernel")
    assert kernel is not None and kernel.owner == "pypi"
    assert "install.kernel" in kernel.reason
    (tmp_path / "dockyard.toml").write_text(
        '[target]\npython = "3.12"\n[install]\nkernel = false\n')
    assert main(["lock", "--project", str(tmp_path)], ui()[0]) == 0
    lock = loads((tmp_path / "dockyard.lock").read_text())
    assert [p.name for p in lock.packages] == ["six"]

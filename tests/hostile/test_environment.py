"""The machine says no: read-only, immutable, full; paths outside the project.

Each case runs the real command and expects a clear message before any long
work (the project's only index never answers: a resolve that started would
hang the test), and no traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from .procs import DOCKYARD


def _can(*args: str) -> bool:
    return shutil.which(args[0]) is not None and subprocess.run(
        args, capture_output=True).returncode == 0


@pytest.fixture
def project(hanging_project):
    return hanging_project


def _in_namespace(script: str, timeout: float = 60) -> tuple[int, str, float]:
    """`script` in a private mount namespace (its mounts vanish with it)."""
    start = time.monotonic()
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


needs_unshare = pytest.mark.skipif(not _can("unshare", "--mount", "true"),
                                   reason="needs `unshare --mount` (root) for private mounts")


def _cmd(*args: str) -> str:
    return " ".join(f"'{a}'" for a in (*DOCKYARD, *args))


@needs_unshare
def test_lock_in_a_read_only_project_fails_before_resolving(project):
    code, out, took = _in_namespace(
        f"mount --bind {project} {project} && mount -o remount,bind,ro {project} && "
        + _cmd("lock", "--project", str(project)))
    assert code == 2, out
    assert "read-only file system" in out and "dockyard.lock" in out, out
    assert "Traceback" not in out
    assert took < 30, f"{took:.0f} s: did it resolve first?"


def test_lock_in_an_immutable_project_fails_before_resolving(project):
    if subprocess.run(["chattr", "+i", str(project)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not possible here")
    try:
        done = subprocess.run([*DOCKYARD, "lock", "--project", str(project)],
                              capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run(["chattr", "-i", str(project)])
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "not permitted" in out and "Traceback" not in out, out


@needs_unshare
def test_no_space_left_is_a_message(project, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    code, out, _ = _in_namespace(
        f"mount -t tmpfs -o size=256k tmpfs {full} && cp -r {project}/. {full}/ && "
        f"(dd if=/dev/zero of={full}/filler bs=4k 2>/dev/null; true) && "
        + _cmd("lock", "--project", str(full)))
    assert code == 2, out
    assert "no space left" in out and "Traceback" not in out, out


@needs_unshare
def test_check_json_into_a_read_only_folder_fails_before_reading(tmp_path):
    from dockyard.testing import archives as A

    image = A.docker_archive(tmp_path / "img.tar", [A.tar({"a": b"b"})])
    ro = tmp_path / "reports"
    ro.mkdir()
    code, out, _ = _in_namespace(
        f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
        + _cmd("check", f"docker-archive:{image}", "--json", str(ro / "r.json")))
    assert code == 2 and "read-only file system" in out and "reading" not in out, out


@pytest.mark.parametrize("line", ["-r ../../../etc/passwd", "-r /etc/passwd",
                                  "-c /etc/shadow", "-r ../outside.txt"])
def test_r_outside_the_project_is_refused_and_never_quoted(tmp_path, line):
    root = tmp_path / "deep" / "project"
    root.mkdir(parents=True)
    (tmp_path / "deep" / "outside.txt").write_text("https://u:hunter2@private.example/x\n")
    (root / "requirements.txt").write_text(f"numpy\n{line}\n")
    (root / "dockyard.toml").write_text('[target]\npython = "3.12"\n')
    done = subprocess.run([*DOCKYARD, "lock", "--project", str(root)], capture_output=True,
                          text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "requirements.txt:2" in out and "outside the project" in out, out
    assert "root:" not in out and "hunter2" not in out and "Traceback" not in out


def test_a_link_inside_the_project_to_a_file_outside_is_refused(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("https://u:hunter2@private.example/x\n")
    (root / "extra.txt").symlink_to(tmp_path / "secret.txt")
    (root / "requirements.txt").write_text("-r extra.txt\n")
    (root / "dockyard.toml").write_text('[target]\npython = "3.12"\n')
    done = subprocess.run([*DOCKYARD, "lock", "--project", str(root)], capture_output=True,
                          text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "leads outside the project" in out, out
    assert "hunter2" not in out and "private.example" not in out


def test_an_error_quotes_only_the_offending_line_redacted(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text(
        "numpy\n# https://u:hunter2@private.example/simple\n"
        "git+https://me:hunter2tok@git.example/x.git@@@ bad line\nother-line-not-shown\n")
    (root / "dockyard.toml").write_text('[target]\npython = "3.12"\n')
    done = subprocess.run([*DOCKYARD, "lock", "--project", str(root)], capture_output=True,
                          text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "requirements.txt:3" in out and "hunter2" not in out, out
    assert "other-line-not-shown" not in out and "Traceback" not in out

"""inventory(): what an environment holds, read from inside it (stdlib only, any Python)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cluster import inventory as inv_mod
from dockyard.cluster.inventory import canonical, clean_url, inventory, remote_expression

SCRIPT = inv_mod.__file__


def _dist(site: Path, name: str, version: str, files: dict[str, bytes], *,
          installer: str = "uv", direct_url: dict | None = None) -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
                                   "Name: not-this-one\n")
    (info / "INSTALLER").write_text(installer + "\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    lines = []
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines.append(f"{rel},sha256={hashlib.sha256(data).hexdigest()},{len(data)}")
    lines += [f"{info.name}/METADATA,,", f"{info.name}/INSTALLER,,", f"{info.name}/RECORD,,",
              "../../../bin/tool,sha256=abc,3", f"{name}/__pycache__/x.cpython-312.pyc,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    return info


def test_reads_distributions_conda_and_lock(tmp_path):
    site, later = tmp_path / "site", tmp_path / "later"
    _dist(site, "Foo.Bar", "1.0", {"foo_bar/__init__.py": b"x = 1\n", "_foo.so": b"\0"})
    _dist(site, "gitdep", "0.3", {"gitdep.py": b""}, direct_url={
        "url": "https://user:s3cr3t@git.example/repo.git",
        "vcs_info": {"vcs": "git", "commit_id": "a" * 40}})
    _dist(site, "myproj", "0.1", {"myproj/__init__.py": b""}, direct_url={
        "url": "file:///opt/dockyard/build/dist/myproj-0.1-py3-none-any.whl",
        "archive_info": {}})
    _dist(later, "foo-bar", "0.9", {"foo_bar/__init__.py": b""})
    (tmp_path / "prefix" / "conda-meta").mkdir(parents=True)
    (tmp_path / "prefix" / "conda-meta" / "libx-1.0-h1.json").write_text(json.dumps({
        "files": ["lib/libx.so"], "name": "libx", "version": "1.0", "build": "h1",
        "channel": "https://conda.example/t/tk-123/conda-forge", "subdir": "linux-64"}))
    lock = tmp_path / "dockyard.lock"
    lock.write_text('version = 1\ninputs-hash = "sha256:feed"\n')
    (tmp_path / "left-out.txt").write_text("# light scheduler\nIPyKernel\n")

    doc = inventory([str(site), "", "relative", str(later)], str(tmp_path / "prefix"), str(lock))

    names = [d["name"] for d in doc["distributions"]]
    assert names == ["foo-bar", "gitdep", "myproj"]
    foo = doc["distributions"][0]
    assert foo["version"] == "1.0" and foo["installer"] == "uv" and foo["source"] == "index"
    assert foo["modules"] == ["_foo", "foo_bar"]
    assert doc["shadowed"] == [{"name": "foo-bar", "version": "0.9", "location": str(later)}]
    git = doc["distributions"][1]
    assert (git["source"], git["commit"]) == ("git", "a" * 40)
    assert "s3cr3t" not in json.dumps(doc) and "tk-123" not in json.dumps(doc)
    assert doc["distributions"][2]["source"] == "archive"
    assert doc["conda"] == [{"name": "libx", "version": "1.0", "build": "h1",
                             "channel": "https://conda.example/conda-forge",
                             "subdir": "linux-64"}]
    assert doc["lock"]["inputs_hash"] == "sha256:feed"
    assert doc["lock"]["sha256"] == "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    assert doc["left_out"] == ["ipykernel"]
    assert doc["errors"] == [] and doc["schema"] == "dockyard-inventory/1"


def test_record_hash_is_the_content_not_the_installer(tmp_path):
    a = _dist(tmp_path / "a", "p", "1", {"p.py": b"one"}, installer="pip")
    b = _dist(tmp_path / "b", "p", "1", {"p.py": b"one"}, installer="uv",
              direct_url={"url": "file:///x", "dir_info": {}})
    # the installer's own files and the order of lines do not count
    (b / "RECORD").write_text("".join(reversed((b / "RECORD").read_text().splitlines(True))))
    c = _dist(tmp_path / "c", "p", "1", {"p.py": b"two"})
    rec = [inventory([str(x.parent)], lock="")["distributions"][0]["record"] for x in (a, b, c)]
    assert rec[0] == rec[1] != rec[2]


def test_bad_files_are_errors_not_exceptions(tmp_path):
    site = tmp_path / "site"
    info = _dist(site, "ok", "1", {"ok.py": b""}, direct_url={"url": "x"})
    (info / "direct_url.json").write_text("{not json")
    (site / "noname-1.dist-info").mkdir()
    (site / "noname-1.dist-info" / "METADATA").write_text("Version: 1\n")
    doc = inventory([str(site)], prefix=str(tmp_path), lock="")
    assert [d["name"] for d in doc["distributions"]] == ["ok"]
    assert len(doc["errors"]) == 2 and doc["lock"] is None


def test_helpers():
    assert canonical("Foo__Bar.baz") == "foo-bar-baz"
    assert clean_url("https://u:p@h/x?token=abc&a=1") == "https://h/x?token=***&a=1"


def _pythons() -> list[str]:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(f"{root}/versions/3.*/bin/python3"),
                   key=lambda p: tuple(int(x) for x in p.split("/versions/")[1].split("/")[0]
                                       .split(".") if x.isdigit()))
    return found or [sys.executable]


@pytest.mark.parametrize("python", [_pythons()[0], _pythons()[-1]])
def test_runs_as_a_script_in_any_interpreter(python, tmp_path):
    """The same file, fed on stdin (as over SSH), under the oldest and newest Python here."""
    _dist(tmp_path / "site", "p", "1", {"p.py": b""})
    done = subprocess.run([python, "-", "--path", str(tmp_path / "site"), "--lock", ""],
                          input=Path(SCRIPT).read_text(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [d["name"] for d in doc["distributions"]] == ["p"]
    assert doc["python"]["executable"].startswith(os.path.dirname(os.path.dirname(python)))
    bad = subprocess.run([python, "-", "--nope"], input=Path(SCRIPT).read_text(),
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_remote_expression_evaluates_to_the_inventory():
    """What a scheduler evaluates: no dockyard import, the module's own namespace."""
    doc = eval(remote_expression(), {"__builtins__": __builtins__})  # noqa: S307
    assert doc["python"]["executable"] == sys.executable
    assert "dockyard" in {d["name"] for d in doc["distributions"]}
    assert "dockyard_inventory" not in sys.modules


def test_real_venv(tmp_path):
    """A real environment made by uv: the interpreter's own view of it."""
    import shutil

    uv = shutil.which("uv")
    if not uv:
        pytest.fail("uv is not on PATH (it is a dockyard dependency)")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    py = venv / "bin" / "python"
    done = subprocess.run([str(py), SCRIPT, "--lock", ""], capture_output=True, text=True)
    doc = json.loads(done.stdout)
    assert doc["python"]["prefix"] == str(venv)
    assert doc["distributions"] == [] or all(d["location"].startswith(str(venv))
                                             for d in doc["distributions"])

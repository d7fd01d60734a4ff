"""`dockyard pack` of the bundled example, unpacked with sh and tar as a host would.

Real parts: the example's conda channel and git repository, PyPI wheels (uv's
cache), the environment's own interpreter on this machine; the self-extracting
script runs under /bin/sh (dash) with only its own tools. The pack is the
session's (`example_pack` in tests/conftest.py), shared with tests/deploy; it
is unpacked here twice with its self-check, and the tests read those.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.network]


def sh(*args, cwd=None, env=None):
    return subprocess.run(["/bin/sh", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def installed(example_pack, tmp_path_factory):
    """The pack unpacked with its self-check at a plain prefix and at one longer than a
    `#!` line can hold."""
    root = tmp_path_factory.mktemp("installed")
    out = {}
    for name, prefix in (("plain", root / "a"), ("long", root / ("p" * 130))):
        done = sh(example_pack, "--prefix", prefix, "--json", root / f"{name}.json")
        assert done.returncode == 0, done.stderr + done.stdout
        out[name] = prefix
        out[f"{name}.json"] = json.loads((root / f"{name}.json").read_text())
    return out


def test_unpacks_checks_and_runs_at_two_prefixes(installed):
    for name in ("plain", "long"):
        prefix, report = installed[name], installed[f"{name}.json"]
        assert report["ok"] and report["prefix"] == str(prefix)
        assert {c["name"]: c["status"] for c in report["checks"]} == {
            "location": "pass", "interpreter": "pass", "imports": "pass", "versions": "pass"}
        # scripts run from the prefix, with the activation (TINYGEO_DATA) from `activate`
        run = subprocess.run(
            ["sh", "-c", f". {prefix}/activate && ipython --version && "
             "python -c 'import tinygeo, minicase, xrpatch, sys; print(sys.prefix)'"],
            capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split()[-1] == str(prefix)
    plain = installed["plain"]
    assert (plain / "bin" / "ipython").read_text().startswith(f"#!{plain}/bin/python")


def test_installing_twice_to_one_prefix_is_refused(example_pack, installed):
    again = sh(example_pack, "--prefix", installed["plain"], "--no-check")
    assert again.returncode == 2
    assert "already exists: an environment is installed once per prefix" in again.stderr


def test_a_long_prefix_gets_trampolines(installed):
    prefix = installed["long"]
    script = (prefix / "bin" / "ipython").read_text()
    assert script.startswith("#!/bin/sh\n'''exec' ")
    assert subprocess.run([prefix / "bin" / "ipython", "--version"],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def where_pack(tmp_path_factory):
    """The binary-placeholder project (dockyard.testing.packs), packed: small, conda only."""
    from dockyard.testing.packs import binary_prefix_project

    work = tmp_path_factory.mktemp("where")
    out = work / "where.sh"
    code, said = run_cli("pack", "--project", str(binary_prefix_project(work)), "-o", str(out))
    assert code == 0, said
    return out


def test_damaged_and_foreign_packs_are_refused(where_pack, tmp_path):
    data = where_pack.read_bytes()
    (tmp_path / "cut.sh").write_bytes(data[:-1000])
    done = sh(tmp_path / "cut.sh", "--prefix", tmp_path / "x")
    assert done.returncode == 2 and "truncated or damaged" in done.stderr
    # one byte changed in the middle (gzip and tar fail), then in the last gzip member's
    # trailer (tar may have every file): the sha256 taken while extracting tells both
    for where in (len(data) // 2, len(data) - 3):
        bad = bytearray(data)
        bad[where] ^= 0xFF
        (tmp_path / "bad.sh").write_bytes(bytes(bad))
        done = sh(tmp_path / "bad.sh", "--prefix", tmp_path / "y")
        assert done.returncode == 2 and "this pack is damaged" in done.stderr, done.stderr
    # nothing installed, nothing left beside (staging folder, fifo, sum)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sh", "cut.sh"]
    bad = sh(where_pack, "--prefix", "/tmp/has space")
    assert bad.returncode == 2 and "characters" in bad.stderr


def test_the_plain_tarball_installs_with_tar_alone_then_moves(example_pack, tmp_path):
    tarball = tmp_path / "env.tar.gz"
    assert sh(example_pack, "--tarball", tarball).returncode == 0
    prefix = tmp_path / "t"
    prefix.mkdir()
    subprocess.run(["tar", "-xzf", tarball, "-C", prefix], check=True)
    assert sh(prefix / ".dockyard" / "dockyard-env", "relocate").returncode == 0
    # then moved: the check names both places and what to do; relocated again, it passes
    moved = tmp_path / "moved"
    prefix.rename(moved)
    tool = moved / ".dockyard" / "dockyard-env"
    check = sh(tool, "check")
    assert check.returncode == 1
    assert f"installed for {prefix}, but it is now at {moved}" in check.stdout
    assert sh(tool, "relocate").returncode == 0
    assert sh(tool, "check").returncode == 0


def test_same_lock_same_pack_id(example_project, example_pack, tmp_path):
    """Packed again, from a copy of the project elsewhere: the same pack id (a hash of the
    tree, not of the compressed bytes)."""
    copy = tmp_path / "elsewhere"
    shutil.copytree(example_project, copy)
    code, said = run_cli("pack", "--project", str(copy), "-o", str(tmp_path / "b.tar.gz"),
                         "--compression-level", "1")
    assert code == 0, said
    first = sh(example_pack, "--info").stdout
    ident = next(line for line in first.splitlines() if line.startswith("pack: "))
    assert ident.split()[1] in said


def test_kernel_registered_and_started_by_jupyter(installed, tmp_path):
    """The plain one registered with the `jupyter` on PATH (the host's Jupyter: here the
    long-prefix environment's, through its trampolines); Jupyter starts it with the conda
    activation variables (tinygeo refuses to import without TINYGEO_DATA)."""
    prefix, host_jupyter = installed["plain"], installed["long"]
    env = {"PATH": f"{host_jupyter}/bin:{os.environ['PATH']}",
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    done = sh(prefix / ".dockyard" / "dockyard-env", "kernel", env=env)
    assert done.returncode == 0, done.stderr
    assert f"registered with {host_jupyter}/bin/jupyter" in done.stdout
    spec = json.loads((tmp_path / "data" / "kernels" / "minicase" / "kernel.json").read_text())
    assert spec["argv"][0] == f"{prefix}/bin/python"
    assert spec["env"]["TINYGEO_DATA"] == f"{prefix}/share/tinygeo"
    code = ("from jupyter_client.manager import start_new_kernel\n"
            "km, kc = start_new_kernel(kernel_name='minicase')\n"
            "r = kc.execute_interactive('import tinygeo, sys; print(sys.prefix)', timeout=60)\n"
            "print(r['content']['status'])\n"
            "kc.stop_channels(); km.shutdown_kernel(now=True)\n")
    run = subprocess.run([host_jupyter / "bin" / "python", "-c", code], capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=120)
    assert run.stdout.strip().splitlines()[-1] == "ok", run.stderr[-2000:]


def test_binary_prefix_relocated_like_conda(where_pack, tmp_path):
    """A conda package with conda-build's 255-character placeholder in a binary string."""
    out = where_pack
    info = sh(out, "--info").stdout
    assert "longest prefix: 96 characters" in info
    for prefix in (tmp_path / "w1", tmp_path / "w2"):
        assert sh(out, "--prefix", prefix, "--no-check").returncode == 0
        run = subprocess.run([prefix / "bin" / "where"], capture_output=True, text=True)
        assert run.stdout.strip() == f"{prefix}/share/where/data"
    moved = tmp_path / "w1-moved-further"
    (tmp_path / "w1").rename(moved)
    assert sh(moved / ".dockyard" / "dockyard-env", "relocate").returncode == 0
    assert subprocess.run([moved / "bin" / "where"], capture_output=True,
                          text=True).stdout.strip() == f"{moved}/share/where/data"
    too_long = sh(out, "--prefix", tmp_path / ("z" * 120))
    assert too_long.returncode == 2 and "room for 96" in too_long.stderr

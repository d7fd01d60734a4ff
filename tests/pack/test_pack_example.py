"""`dockyard pack` of the bundled example, unpacked with sh and tar as a host would.

Real parts: the example's conda channel and git repository, PyPI wheels (uv's
cache), the environment's own interpreter on this machine; the self-extracting
script runs under /bin/sh (dash) with only its own tools.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.network]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    from dockyard.testing.packs import locked_example

    return locked_example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def pack(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "minicase-env.sh"
    code, said = run_cli("pack", "--project", str(example), "-o", str(out))
    assert code == 0, said
    assert "minicase-env.sh" in said and "relocated" in said
    return out


def sh(*args, cwd=None, env=None):
    return subprocess.run(["/bin/sh", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})})


def test_unpacks_checks_and_runs_at_two_prefixes(pack, tmp_path):
    for name in ("a", "second-prefix"):
        prefix = tmp_path / name
        done = sh(pack, "--prefix", prefix, "--json", tmp_path / f"{name}.json")
        assert done.returncode == 0, done.stderr + done.stdout
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["ok"] and report["prefix"] == str(prefix)
        assert {c["name"]: c["status"] for c in report["checks"]} == {
            "location": "pass", "interpreter": "pass", "imports": "pass", "versions": "pass"}
        # scripts run from the prefix, with the activation (TINYGEO_DATA) from `activate`
        run = subprocess.run(
            ["sh", "-c", f". {prefix}/activate && ipython --version && "
             "python -c 'import tinygeo, minicase, xrpatch, sys; print(sys.prefix)'"],
            capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["9.19.1", str(prefix)] or run.stdout.split()[-1] == \
            str(prefix)
        assert (prefix / "bin" / "ipython").read_text().startswith(f"#!{prefix}/bin/python")


def test_installing_twice_to_one_prefix_is_refused(pack, tmp_path):
    assert sh(pack, "--prefix", tmp_path / "e", "--no-check").returncode == 0
    again = sh(pack, "--prefix", tmp_path / "e", "--no-check")
    assert again.returncode == 2
    assert "already exists: an environment is installed once per prefix" in again.stderr


def test_a_moved_environment_is_refused_then_relocated(pack, tmp_path):
    assert sh(pack, "--prefix", tmp_path / "first", "--no-check").returncode == 0
    (tmp_path / "first").rename(tmp_path / "moved")
    tool = tmp_path / "moved" / ".dockyard" / "dockyard-env"
    check = sh(tool, "check")
    assert check.returncode == 1
    assert f"installed for {tmp_path}/first, but it is now at {tmp_path}/moved" in check.stdout
    assert sh(tool, "relocate").returncode == 0
    assert sh(tool, "check").returncode == 0


def test_a_long_prefix_gets_trampolines(pack, tmp_path):
    prefix = tmp_path / ("p" * 130)
    assert sh(pack, "--prefix", prefix).returncode == 0
    script = (prefix / "bin" / "ipython").read_text()
    assert script.startswith("#!/bin/sh\n'''exec' ")
    assert subprocess.run([prefix / "bin" / "ipython", "--version"],
                          capture_output=True).returncode == 0


def test_damaged_and_foreign_packs_are_refused(pack, tmp_path):
    cut = tmp_path / "cut.sh"
    cut.write_bytes(pack.read_bytes()[:-1000])
    done = sh(cut, "--prefix", tmp_path / "x")
    assert done.returncode == 2 and "truncated or damaged" in done.stderr
    assert not (tmp_path / "x").exists()
    bad = sh(pack, "--prefix", "/tmp/has space")
    assert bad.returncode == 2 and "characters" in bad.stderr


def test_the_plain_tarball_installs_with_tar_alone(pack, tmp_path):
    tarball = tmp_path / "env.tar.gz"
    assert sh(pack, "--tarball", tarball).returncode == 0
    prefix = tmp_path / "t"
    prefix.mkdir()
    subprocess.run(["tar", "-xzf", tarball, "-C", prefix], check=True)
    assert sh(prefix / ".dockyard" / "dockyard-env", "relocate").returncode == 0
    assert sh(prefix / ".dockyard" / "dockyard-env", "check").returncode == 0


def test_same_lock_same_pack_id(example, pack, tmp_path):
    code, said = run_cli("pack", "--project", str(example), "-o", str(tmp_path / "b.tar.gz"))
    assert code == 0, said
    first = sh(pack, "--info").stdout
    ident = next(line for line in first.splitlines() if line.startswith("pack: "))
    assert ident.split()[1] in said


def test_kernel_registered_and_started_by_jupyter(pack, tmp_path):
    """--kernel registers it with the `jupyter` on PATH; Jupyter starts it with the conda
    activation variables (tinygeo refuses to import without TINYGEO_DATA)."""
    prefix = tmp_path / "k"
    host_jupyter = tmp_path / "jupyter-host"
    assert sh(pack, "--prefix", prefix, "--no-check").returncode == 0
    # the host's Jupyter: here, a copy of the environment's own (jupyter_client, no ipykernel
    # needed on its side), with its data directory in the test's folder
    shutil.copytree(prefix, host_jupyter, symlinks=True)
    assert sh(host_jupyter / ".dockyard" / "dockyard-env", "relocate").returncode == 0
    env = {"PATH": f"{host_jupyter}/bin:{os.environ['PATH']}",
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    done = sh(prefix / ".dockyard" / "dockyard-env", "kernel", env=env)
    assert done.returncode == 0, done.stderr
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


def test_binary_prefix_relocated_like_conda(tmp_path):
    """A conda package with conda-build's 255-character placeholder in a binary string."""
    from dockyard.testing.packs import binary_prefix_project

    project = binary_prefix_project(tmp_path)
    out = tmp_path / "where.sh"
    code, said = run_cli("pack", "--project", str(project), "-o", str(out))
    assert code == 0, said
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

"""`dockyard deploy` to real sshd hosts (Debian's openssh-server in containers) and a local dir.

Two packs of the bundled example (v1, the session's; v2: a code change), two SSH
hosts reached on loopback ports with a key made here, and a plain local
directory. Deploy v1 to both hosts; break host2 on purpose (a numpy in the
user's site-packages that shadows the environment's, as a stray `pip install
--user` does); deploy v2 and see host2 refused (its `current` unchanged) while host1
switches; deploy v1 with --all-or-none (host1 would switch back, host2's fails)
and see neither host switched; roll host1 back. Every ssh call is recorded as
ssh received it.
"""

from __future__ import annotations

import json
import shutil

import pytest

from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]
ROOT = "/opt/envs/app"
STRAY = "/home/dask/.local/lib/python3.12/site-packages"


@pytest.fixture(scope="module")
def v2_pack(example_project, tmp_path_factory):
    """The example with a code change, packed."""
    work = tmp_path_factory.mktemp("v2")
    project = work / "minicase"
    shutil.copytree(example_project, project)
    init = project / "minicase" / "__init__.py"
    init.write_text(init.read_text() + '\nRELEASE = "v2"\n')
    out = work / "minicase-v2.sh"
    code, said = run_cli("pack", "--project", str(project), "-o", str(out),
                         "--compression-level", "1")
    assert code == 0, said
    return out


def pack_id(path):
    from dockyard.deploy import pack_info

    return pack_info(path).pack_id


def link(host, name="current", root=ROOT):
    return host.exec(f"readlink {root}/{name}", check=False).stdout.strip()


def results_of(path):
    return {r["host"]: r for r in json.loads(path.read_text())}


@pytest.fixture
def broken_host2(ssh_test_hosts):
    """host2 with a stray user-site numpy that shadows every environment's; put back after
    (and ROOT removed from both hosts)."""
    host2 = ssh_test_hosts["host2"]

    def breaks() -> None:
        host2.exec(
            f"mkdir -p {STRAY}/numpy {STRAY}/numpy-2.0.0.dist-info && "
            f"printf 'raise ImportError(\"a stray numpy\")\\n' > {STRAY}/numpy/__init__.py && "
            f"printf 'Metadata-Version: 2.1\\nName: numpy\\nVersion: 2.0.0\\n' "
            f"> {STRAY}/numpy-2.0.0.dist-info/METADATA && chown -R dask /home/dask/.local")

    yield breaks
    host2.exec("rm -rf /home/dask/.local")
    for host in ssh_test_hosts.hosts.values():
        host.exec(f"rm -rf {ROOT}")


def test_deploy_break_refuse_rollback(example_pack, v2_pack, ssh_test_hosts, broken_host2,
                                      tmp_path, monkeypatch):
    from dockyard.testing.argv import ArgvRecorder

    hosts = ssh_test_hosts
    rec = ArgvRecorder(tmp_path, ["ssh"])
    monkeypatch.setenv("PATH", rec.path())
    v1, v2 = pack_id(example_pack), pack_id(v2_pack)
    assert v1 != v2
    common = ["--prefix", ROOT, "--ssh-config", str(hosts.config)]

    code, said = run_cli("deploy", "host1", "host2", *common, "--pack", str(example_pack),
                         "--json", str(tmp_path / "v1.json"))
    assert code == 0, said
    results = results_of(tmp_path / "v1.json")
    assert {h: r["status"] for h, r in results.items()} == {"host1": "switched",
                                                            "host2": "switched"}
    assert link(hosts["host1"]) == link(hosts["host2"]) == v1
    run = hosts["host1"].exec(f". {ROOT}/current/activate && python -c "
                              "'import minicase, tinygeo, numpy; print(numpy.__version__)'",
                              user="dask")
    assert run.stdout.strip() == "1.26.4"

    # the same pack again: nothing copied, nothing switched
    code, said = run_cli("deploy", "host1", *common, "--pack", str(example_pack))
    assert code == 0 and "up to date" in said, said

    broken_host2()
    # v2: host1 switches, host2 is refused (its new environment fails) and keeps v1
    code, said = run_cli("deploy", "host1", "host2", *common, "--pack", str(v2_pack),
                         "--json", str(tmp_path / "v2.json"))
    assert code == 1, said
    results = results_of(tmp_path / "v2.json")
    assert results["host1"]["status"] == "switched" and results["host1"]["current"] == v2
    assert results["host2"]["status"] == "refused"
    assert any("numpy" in p and "2.0.0" in p for p in results["host2"]["problems"])
    assert link(hosts["host1"]) == v2 and link(hosts["host2"]) == v1  # host2 unchanged
    assert "do not all run the same environment" in said

    # v1 again, --all-or-none: host1's v1 (its `previous`, still there) passes, host2's
    # (its `current`) fails: no host switches
    code, said = run_cli("deploy", "host1", "host2", *common, "--pack", str(example_pack),
                         "--all-or-none", "--json", str(tmp_path / "aon.json"))
    assert code == 1, said
    results = results_of(tmp_path / "aon.json")
    assert results["host1"]["status"] == "not switched", results
    assert results["host1"]["detail"].startswith("already there, checked")
    assert "another host failed (--all-or-none)" in results["host1"]["detail"]
    assert results["host1"]["current"] == v2
    assert results["host2"]["status"] == "refused"
    assert "the current environment fails its check" in results["host2"]["detail"]
    assert link(hosts["host1"]) == v2 and link(hosts["host2"]) == v1

    # roll host1 back: both on v1 again
    code, said = run_cli("deploy", "host1", *common, "--rollback")
    assert code == 0 and "rolled back" in said, said
    assert link(hosts["host1"]) == v1 and link(hosts["host1"], "previous") == v2
    code, said = run_cli("deploy", "host2", *common, "--rollback")
    assert code == 1 and "nothing to roll back to" in said

    ssh_calls = rec.calls("ssh")
    assert len(ssh_calls) >= 12, ssh_calls  # state, copy, check, inventory, switch...
    for argv in ssh_calls:
        assert "BatchMode=yes" in argv
        dest = argv[argv.index("--") + 1]
        assert dest in ("host1", "host2"), argv  # no user@, no password, no token: a name


def test_deploy_to_a_local_directory(example_pack, tmp_path):
    local = tmp_path / "local-envs"
    code, said = run_cli("deploy", "local", "--prefix", str(local), "--pack", str(example_pack))
    assert code == 0, said
    assert (local / "current").resolve().name == pack_id(example_pack)
    assert (local / "current" / "bin" / "python").exists()
    assert not [p.name for p in local.iterdir() if p.name.startswith(".")]  # nothing left

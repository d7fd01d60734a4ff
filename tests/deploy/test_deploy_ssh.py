"""`dockyard deploy` to real sshd hosts (Debian's openssh-server in containers) and a local dir.

Two packs of the bundled example (v2: a code change), two SSH hosts reached on
loopback ports with a key made here, and a plain local directory. Deploy v1
everywhere; break host2 on purpose (a numpy in the user's site-packages that
shadows the environment's, as a stray `pip install --user` does); deploy v2 and
see host2 refused (its `current` unchanged) while host1 switches; roll host1
back. No credential is on any command line: the recorded ssh argv say so.
"""

from __future__ import annotations

import json
import shutil

import pytest

from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    from dockyard.testing.packs import locked_example

    work = tmp_path_factory.mktemp("packs")
    project = locked_example(work)
    out = {}
    for version in ("v1", "v2"):
        if version == "v2":
            init = project / "minicase" / "__init__.py"
            init.write_text(init.read_text() + '\nRELEASE = "v2"\n')
        out[version] = work / f"minicase-{version}.sh"
        code, said = run_cli("pack", "--project", str(project), "-o", str(out[version]))
        assert code == 0, said
    return out


@pytest.fixture(scope="module")
def hosts(podman, tmp_path_factory):
    from dockyard.testing.sshd import ssh_hosts

    with ssh_hosts(podman, ["host1", "host2"], tmp_path_factory.mktemp("ssh")) as found:
        yield found


def pack_id(path):
    from dockyard.deploy import pack_info

    return pack_info(path).pack_id


def current(host, root="/opt/envs/app"):
    return host.exec(f"readlink {root}/current", check=False).stdout.strip()


def test_deploy_break_refuse_rollback(packs, hosts, tmp_path, monkeypatch):
    from dockyard.deploy import transport

    argvs = []
    real = transport._run
    monkeypatch.setattr(transport, "_run", lambda argv, *a: (argvs.append(argv), real(argv, *a))[1])
    v1, v2 = pack_id(packs["v1"]), pack_id(packs["v2"])
    assert v1 != v2
    local = tmp_path / "local-envs"
    common = ["--prefix", "/opt/envs/app", "--ssh-config", str(hosts.config)]

    code, said = run_cli("deploy", "host1", "host2", *common, "--pack", str(packs["v1"]),
                         "--json", str(tmp_path / "v1.json"))
    assert code == 0, said
    results = {r["host"]: r for r in json.loads((tmp_path / "v1.json").read_text())}
    assert {h: r["status"] for h, r in results.items()} == {"host1": "switched",
                                                            "host2": "switched"}
    assert current(hosts["host1"]) == current(hosts["host2"]) == v1
    run = hosts["host1"].exec(". /opt/envs/app/current/activate && python -c "
                              "'import minicase, tinygeo, numpy; print(numpy.__version__)'",
                              user="dask")
    assert run.stdout.strip() == "1.26.4"

    # the same pack again: nothing copied, nothing switched
    code, said = run_cli("deploy", "host1", *common, "--pack", str(packs["v1"]))
    assert code == 0 and "up to date" in said, said

    # host2 broken on purpose: a stray user-site numpy shadows the environment's
    site = "/home/dask/.local/lib/python3.12/site-packages"
    hosts["host2"].exec(
        f"mkdir -p {site}/numpy {site}/numpy-2.0.0.dist-info && "
        f"printf 'raise ImportError(\"a stray numpy\")\\n' > {site}/numpy/__init__.py && "
        f"printf 'Metadata-Version: 2.1\\nName: numpy\\nVersion: 2.0.0\\n' "
        f"> {site}/numpy-2.0.0.dist-info/METADATA && chown -R dask /home/dask/.local")
    code, said = run_cli("deploy", "host1", "host2", *common, "--pack", str(packs["v2"]),
                         "--json", str(tmp_path / "v2.json"))
    assert code == 1, said
    results = {r["host"]: r for r in json.loads((tmp_path / "v2.json").read_text())}
    assert results["host1"]["status"] == "switched" and results["host1"]["current"] == v2
    assert results["host2"]["status"] == "refused"
    assert any("numpy" in p and "2.0.0" in p for p in results["host2"]["problems"])
    assert current(hosts["host1"]) == v2 and current(hosts["host2"]) == v1  # host2 unchanged
    assert "do not all run the same environment" in said

    # roll host1 back: both on v1 again
    code, said = run_cli("deploy", "host1", *common, "--rollback")
    assert code == 0 and "rolled back" in said, said
    assert current(hosts["host1"]) == v1
    assert hosts["host1"].exec("readlink /opt/envs/app/previous").stdout.strip() == v2
    code, said = run_cli("deploy", "host2", *common, "--rollback")
    assert code == 1 and "nothing to roll back to" in said

    # a plain local directory is a host too
    code, said = run_cli("deploy", "local", "--prefix", str(local), "--pack", str(packs["v1"]))
    assert code == 0, said
    assert (local / "current").resolve().name == v1
    assert (local / "current" / "bin" / "python").exists()

    ssh_lines = [" ".join(a) for a in argvs if a[0] == "ssh"]
    assert ssh_lines and all("BatchMode=yes" in line for line in ssh_lines)
    assert not [line for line in ssh_lines if "@" in line.split(" -- ", 1)[-1].split()[0]]
    shutil.rmtree(local)

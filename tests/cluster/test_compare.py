"""compare(): inventories against the lock and the client (pure; inventories as plain dicts)."""

from __future__ import annotations

import copy

from dockyard.cluster.compare import Member, compare
from dockyard.lock.model import Artifact, Lock, LockedPackage, Target

CHANNEL = "https://conda.example/conda-forge"


def _lock(python: str = "3.12.1") -> Lock:
    return Lock(inputs_hash="sha256:" + "1" * 64, target=Target(python=python), packages=(
        LockedPackage("python", "3.12.1", "conda", CHANNEL, "r", build="h0", subdir="linux-64",
                      artifacts=(Artifact(f"{CHANNEL}/linux-64/python.conda", "0" * 64),)),
        LockedPackage("numpy", "1.26.4", "conda", CHANNEL, "r", build="py312h1",
                      subdir="linux-64", provides=("numpy",)),
        LockedPackage("dask", "2026.1.0", "pypi", "https://pypi.org/simple", "r"),
        LockedPackage("toolz", "1.0.0", "pypi", "https://pypi.org/simple", "r"),
        LockedPackage("xrpatch", "0.2", "pypi", "git+https://git.example/x.git", "r",
                      commit="c" * 40),
    ))


def _dist(name, version, **kw):
    return {"name": name, "version": version, "location": "/opt/dockyard/env/lib/site-packages",
            "installer": "uv", "source": "index", "url": "", "commit": "",
            "record": "sha256:" + name, "modules": [name], **kw}


def _inv(host: str = "h") -> dict:
    return {
        "schema": "dockyard-inventory/1", "host": host, "pid": 1,
        "python": {"version": "3.12.1"},
        "lock": {"path": "/opt/dockyard/dockyard.lock", "sha256": "sha256:aa",
                 "inputs_hash": "sha256:" + "1" * 64},
        "left_out": [],
        "distributions": [
            _dist("dask", "2026.1.0"), _dist("numpy", "1.26.4", installer="conda"),
            _dist("toolz", "1.0.0"),
            _dist("xrpatch", "0.2", source="git", commit="c" * 40),
            _dist("myproj", "0.1", source="archive", location="/opt/dockyard/app",
                  record="sha256:v1"),
        ],
        "shadowed": [],
        "conda": [{"name": "python", "version": "3.12.1", "build": "h0",
                   "channel": CHANNEL, "subdir": "linux-64"},
                  {"name": "numpy", "version": "1.26.4", "build": "py312h1",
                   "channel": CHANNEL + "/", "subdir": "linux-64"}],
        "errors": [],
    }


def _cluster(**changes) -> tuple[Member, list[Member]]:
    client = Member("client", "notebook", _inv())
    members = [client, Member("scheduler", "tcp://10.0.0.1:8786", _inv()),
               Member("worker", "tcp://10.0.0.2:40001", _inv()),
               Member("worker", "tcp://10.0.0.3:40001", _inv())]
    for index, change in changes.items():
        change(members[int(index[1:])].inventory)
    return client, members


def test_identical_cluster_has_no_difference():
    client, members = _cluster()
    result = compare(members, _lock(), client)
    assert result.ok, result.differences


def test_worker_with_one_package_at_another_version():
    def older_toolz(inv):
        inv["distributions"][2]["version"] = "0.12.1"

    client, members = _cluster(m2=older_toolz)
    result = compare(members, _lock(), client)
    (d,) = result.differences
    assert (d.role, d.host, d.package, d.what) == ("worker", "tcp://10.0.0.2:40001", "toolz",
                                                   "version")
    assert (d.found, d.lock, d.reference) == ("0.12.1", "1.0.0", "1.0.0")  # one row, both


def test_scheduler_missing_the_projects_module():
    def no_project(inv):
        inv["distributions"] = [d for d in inv["distributions"] if d["name"] != "myproj"]

    client, members = _cluster(m1=no_project)
    (d,) = compare(members, _lock(), client).differences
    assert (d.role, d.package, d.what, d.found, d.reference) == (
        "scheduler", "myproj", "missing", "-", "0.1")
    assert d.lock == "" and d.detail == "the project's own package"


def test_worker_from_an_older_image():
    def older(inv):
        inv["lock"] = {"sha256": "sha256:bb", "inputs_hash": "sha256:" + "2" * 64}
        inv["distributions"][1] = _dist("numpy", "1.26.4", installer="conda")
        inv["distributions"][4]["record"] = "sha256:v0"  # the project at an older commit

    client, members = _cluster(m3=older)
    diffs = compare(members, _lock(), client).differences
    assert [(d.host, d.package, d.what) for d in diffs] == [
        ("tcp://10.0.0.3:40001", "lock", "lock"),
        ("tcp://10.0.0.3:40001", "myproj", "content")]
    assert diffs[0].found == "inputs 222222222222" and diffs[0].reference == "inputs 111111111111"


def test_lock_side_conda_build_channel_python_git_extra():
    def drift(inv):
        inv["conda"][1]["build"] = "py312h9"
        inv["conda"][0]["channel"] = "https://elsewhere/conda-forge"
        inv["distributions"][3]["commit"] = "d" * 40
        inv["distributions"].append(_dist("requests", "2.0"))

    client, members = _cluster(m0=drift)
    result = compare([members[0]], _lock())
    got = {(d.package, d.what): (d.found, d.lock) for d in result.differences}
    assert got == {
        ("numpy", "build"): ("py312h9", "py312h1"),
        ("python", "channel"): ("https://elsewhere/conda-forge", CHANNEL),
        ("xrpatch", "commit"): ("0.2 @dddddddddddd", "0.2 @cccccccccccc"),
        ("requests", "extra"): ("2.0", "-"),
    }


def test_venv_python_minor_against_lock_and_full_against_client():
    lock = Lock(inputs_hash="x", target=Target(python="3.13.5"))
    inv = {"python": {"version": "3.13.7"}, "distributions": [], "conda": []}
    assert compare([Member("host", "a", inv)], lock).ok
    inv2 = copy.deepcopy(inv)
    inv2["python"]["version"] = "3.12.9"
    (d,) = compare([Member("host", "b", inv2)], lock).differences
    assert (d.what, d.found, d.lock) == ("python", "3.12.9", "3.13.*")
    ref = Member("client", "c", inv)
    (d,) = compare([Member("worker", "w", {**inv, "python": {"version": "3.13.5"}})],
                   reference=ref).differences
    assert (d.what, d.found, d.reference) == ("python", "3.13.5", "3.13.7")


def test_light_scheduler_left_out_is_a_note_and_unreachable_is_a_difference():
    def light(inv):
        inv["distributions"] = [d for d in inv["distributions"] if d["name"] != "xrpatch"]
        inv["left_out"] = ["xrpatch"]

    client, members = _cluster(m1=light)
    members.append(Member("worker", "tcp://10.0.0.9:1", None, error="connection refused"))
    result = compare(members, _lock(), client)
    (d,) = result.differences
    assert (d.role, d.package, d.what, d.detail) == ("worker", "inventory", "unreachable",
                                                     "connection refused")
    assert any("leaves out 1 distributions" in n for n in result.notes)


def test_ignore():
    def older_toolz(inv):
        inv["distributions"][2]["version"] = "0.12.1"

    client, members = _cluster(m2=older_toolz)
    assert compare(members, _lock(), client, ignore=["Toolz"]).ok

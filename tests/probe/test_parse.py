"""Probe parsing on recorded outputs (real bases, recorded once) and hand-made edge cases."""

import json
from pathlib import Path

import pytest

from dockyard.probe import parse_facts
from dockyard.probe.parse import parse_glibc, parse_jupyter, sections

DATA = Path(__file__).parent / "data"


def recorded(name):
    doc = json.loads((DATA / f"{name}.json").read_text())
    return parse_facts(doc["ref"], doc["config"], doc["output"])


def test_platform_jupyter_base():
    f = recorded("platform-jupyter")
    assert f.glibc == "2.41" and f.libc == "glibc"
    assert f.os_id == "debian" and f.os_version == "13"
    assert f.pinned.startswith("localhost/dockyard-test/platform-base@sha256:")
    assert f.cmd == ("/bin/sh", "-c", "jupyter lab --no-browser --ip 0.0.0.0 "
                     "--LabApp.token=password --ContentsManager.allow_hidden=True")
    assert f.entrypoint is None
    assert {p.version for p in f.pythons} == {"3.13.5"}
    assert f.jupyter is not None and f.jupyter.python == "/opt/python/bin/python3"
    assert f.jupyter_python is not None and f.jupyter_python.prefix == "/opt/python"
    assert "/opt/python/share/jupyter/kernels" in f.jupyter.kernel_dirs
    u = f.user
    assert (u.config_user, u.uid, u.gid, u.name) == ("1000", 1000, 100, "onyxia")
    assert (u.username, u.groupname, u.group_gid) == ("onyxia", "users", 100)
    assert u.workspace_dir == "/home/onyxia/work" and not u.is_root
    assert not f.cuda.present
    assert f.tool("pip") == "/opt/python/bin/pip" and f.tool("uv") is None


def test_platform_cuda_base():
    f = recorded("platform-cuda")
    assert f.cuda.version == "12.6.3"
    assert "/usr/local/cuda-12.6" in f.cuda.roots
    assert any(p.endswith("libcudart.so.12.6.77") for p in f.cuda.cudart)
    assert f.env_value("NVIDIA_VISIBLE_DEVICES") == "all"


def test_base_without_jupyter():
    f = recorded("platform-nojupyter")
    assert f.jupyter is None and f.jupyter_python is None
    assert f.pythons  # it has a Python, just no Jupyter


def test_plain_debian_without_python():
    f = recorded("debian-trixie")
    assert f.pythons == () and f.jupyter is None
    assert f.user.is_root and f.user.config_user == ""
    assert (f.user.username, f.user.groupname, f.user.group_gid) == ("", "root", None)
    assert f.cmd == ("/bin/bash",)
    assert f.glibc == "2.41"


ONYXIA_LIKE = """\
@@os
PRETTY_NAME="Ubuntu 24.04.1 LTS"
ID=ubuntu
VERSION_ID="24.04"
@@glibc
@@libc
/lib/x86_64-linux-gnu/libc.so.6
@@id
uid=1000
gid=100
name=onyxia
home=/home/onyxia
@@passwd
root:x:0:0:root:/root:/bin/bash
onyxia:x:1000:100::/home/onyxia:/bin/bash
@@group
root:x:0:
users:x:100:
@@pythons
/opt/python/bin/python3\t/opt/python/bin/python3.13\t3.13.1\t/opt/python
/usr/bin/python3\t/usr/bin/python3.12\tnot-a-version\t/usr
garbage line
@@jupyter
path=/opt/python/bin/jupyter
shebang=#!/usr/bin/env python3
@@jupyter-paths
{"config": [], "data": ["/home/onyxia/.local/share/jupyter", "/opt/python/share/jupyter"]}
@@cuda
env=
/usr/local/cuda
/usr/local/cuda-12.6
/usr/local/cuda-12.6/lib64/libcudart.so.12.6.77
@@cuda-json
{"cuda": {"name": "CUDA SDK", "version": "12.6.3"}}
@@tools
uv=/opt/python/bin/uv
@@end
"""


def test_hand_made_onyxia_like_output():
    config = {"Id": "sha256:abc", "RepoDigests": ["inseefrlab/onyxia-jupyter@sha256:123"],
              "Config": {"User": "1000", "Env": ["USERNAME=onyxia", "GROUPNAME=users"]}}
    f = parse_facts("inseefrlab/onyxia-jupyter:py3.13", config, ONYXIA_LIKE)
    assert f.pinned == "inseefrlab/onyxia-jupyter@sha256:123"
    assert f.image_id == "abc"
    assert f.glibc == "" and f.libc == "glibc"  # present, version unknown
    assert [p.version for p in f.pythons] == ["3.13.1"]  # the garbage lines are skipped
    assert f.jupyter.python == "python3"  # `#!/usr/bin/env python3`
    assert f.cuda.version == "12.6.3"  # from version.json when $CUDA_VERSION is unset
    assert f.user.owner_gid == 100 and f.tool("uv") == "/opt/python/bin/uv"
    assert f.cmd is None and f.entrypoint is None


def test_numeric_user_without_passwd_entry():
    out = "@@id\nuid=4242\ngid=4242\nname=\nhome=/\n@@passwd\nroot:x:0:0::/root:/bin/sh\n@@end\n"
    f = parse_facts("x", {"Id": "1", "Config": {"User": "4242:4242"}}, out)
    assert (f.user.uid, f.user.gid, f.user.name) == (4242, 4242, "")
    assert f.pinned == "1" and f.pythons == () and f.jupyter is None


@pytest.mark.parametrize("glibc,libc,expected", [
    (["glibc 2.41"], [], ("2.41", "glibc")),
    (["ldd (Ubuntu GLIBC 2.39-0ubuntu8.4) 2.39"], [], ("2.39", "glibc")),
    ([], ["/lib64/libc-2.17.so"], ("2.17", "glibc")),
    ([], ["/lib/ld-musl-x86_64.so.1"], ("", "musl")),
    ([], [], ("", "")),
])
def test_glibc_variants(glibc, libc, expected):
    assert parse_glibc(glibc, libc) == expected


def test_jupyter_paths_not_json():
    j = parse_jupyter(["path=/usr/bin/jupyter", "shebang=#!/usr/bin/python3 -I"], ["oops"])
    assert j.python == "/usr/bin/python3" and j.data_dirs == ()


def test_sections_ignore_text_before_first_marker():
    assert sections("noise\n@@a\n1\n@@b\n@@a\n2\n") == {"a": ["1", "2"], "b": []}

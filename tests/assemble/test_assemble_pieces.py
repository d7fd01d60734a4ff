"""The engine-less pieces, each on its own: layers, config, layouts, SBOM, credentials."""

from __future__ import annotations

import base64
import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import BuildError
from dockyard.lock.model import Artifact, Lock, LockedPackage, Target
from dockyard.oci.auth import credentials
from dockyard.oci.image import Descriptor, NewLayer, image_config, rfc3339
from dockyard.oci.layer import dir_entry, file_entry, tree_entries, write_layer
from dockyard.oci.registry import parse_reference


def _tree(root: Path) -> None:
    (root / "opt/app/pkg").mkdir(parents=True)
    (root / "opt/app/pkg/b.py").write_text("b = 2\n")
    (root / "opt/app/pkg/a.py").write_text("a = 1\n")
    (root / "opt/app/run").write_text("#!/bin/sh\n")
    (root / "opt/app/run").chmod(0o755)
    os.symlink("pkg/a.py", root / "opt/app/link")


def test_layers_are_the_same_bytes_from_the_same_files(tmp_path):
    digests = []
    for run in ("one", "two"):
        root = tmp_path / run
        _tree(root)
        os.utime(root / "opt/app/pkg/a.py", (12345, 12345 + len(run)))  # mtime from disk
        entries = [dir_entry("opt", 7), *tree_entries(root, "/opt/app", 1000, 100, mtime=42)]
        digests.append(write_layer(entries, tmp_path / f"{run}.tar.gz"))
    assert digests[0] == digests[1]
    raw = (tmp_path / "one.tar.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08  # gzip: mtime 0, no file name
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["opt", "opt/app", "opt/app/link", "opt/app/pkg",
                                         "opt/app/pkg/a.py", "opt/app/pkg/b.py", "opt/app/run"]
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members[1:]} == {(1000, 100, "", "")}
    assert {m.mtime for m in members[1:]} == {42} and members[0].mtime == 7
    assert members[2].issym() and members[2].linkname == "pkg/a.py"
    assert members[6].mode == 0o755 and members[4].mode == 0o644
    plain = gzip.decompress(raw)
    import hashlib

    assert digests[0].diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert digests[0].digest == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_gzip_members_are_the_same_bytes_on_any_number_of_cores(tmp_path):
    import random
    import subprocess

    from dockyard.gzmembers import BLOCK, GzipMembers

    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _ in range(4096)) * (BLOCK * 2 // 4096 + 3)
    outs = []
    for threads in (1, 2, 5):
        path = tmp_path / f"{threads}.gz"
        with open(path, "wb") as raw, GzipMembers(raw, 1, threads) as gz:
            for i in range(0, len(data), 1 << 20):  # written in pieces, as tar writes
                gz.write(data[i:i + (1 << 20)])
        outs.append(path.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert outs[0].count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 3  # one member per block
    assert gzip.decompress(outs[0]) == data
    unzipped = subprocess.run(["gzip", "-dc", str(tmp_path / "1.gz")], capture_output=True,
                              check=True).stdout
    assert unzipped == data
    with open(tmp_path / "empty.gz", "wb") as raw, GzipMembers(raw, 1) as gz:
        pass
    assert gzip.decompress((tmp_path / "empty.gz").read_bytes()) == b""


def test_a_base_read_from_its_layers_across_gzip_members_and_whiteouts(tmp_path):
    """The layer reader of the engine-less path (base folders, files, the probe) reads a
    layer of many gzip members to its end, and applies whiteouts of files and folders."""
    from dockyard.oci.probe import _Tree
    from dockyard.testing.archives import layer

    big = os.urandom(9 << 20)  # incompressible: the tar spans two members or more
    entries = [dir_entry("opt", 1), dir_entry("opt/env", 1),
               *(file_entry(f"opt/env/f{i:05}.py", b"x = 1\n", 1) for i in range(3000)),
               file_entry("opt/env/big.bin", big, 1),
               dir_entry("opt/keep", 1, mode=0o750, uid=1000, gid=100),
               file_entry("opt/keep/a.txt", b"after the big file", 1),
               file_entry("opt/keep/b.txt", b"removed by a whiteout", 1)]
    blob = write_layer(entries, tmp_path / "one.tar.gz")
    raw = (tmp_path / "one.tar.gz").read_bytes()
    assert raw.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 2, blob
    second = layer({"opt/.wh.env": b"", "opt/keep/.wh.b.txt": b""})
    tree = _Tree(keep=lambda path, size: path.startswith("opt/keep/"))
    with open(tmp_path / "one.tar.gz", "rb") as f:
        tree.add_layer(f)
    assert "opt/env/f02999.py" in tree.entries and tree.data["opt/keep/b.txt"]
    import io

    tree.add_layer(io.BytesIO(second))
    assert not any(p.startswith("opt/env") for p in tree.entries), "whiteout of a folder"
    assert tree.data == {"opt/keep/a.txt": b"after the big file"}
    assert tree.dirs["opt/keep"] == (0o750, 1000, 100)


def test_a_damaged_base_layer_is_named_not_a_traceback(tmp_path):
    from dockyard.oci.base import open_base
    from dockyard.oci.probe import read_files
    from dockyard.testing.archives import compress, config_for, oci_layout, tar

    plain = tar({"etc/os-release": b"ID=debian\n" * 5000})
    whole = compress(plain, "gzip")
    oci_layout(tmp_path / "base", [whole[: len(whole) // 2]],  # cut in the middle
               config_for([plain]))
    with pytest.raises(BuildError) as err:
        read_files(open_base(f"oci:{tmp_path / 'base'}"), {"/etc/os-release"})
    assert "cannot be read as a tar" in err.value.message and err.value.hint


def test_files_of_an_image_are_read_from_the_top_layer_down(tmp_path):
    """`dockyard sbom IMAGE` reads the SBOM and the lock from the top layers down, stopping
    once each is found or deleted: a lower layer (the environment's GBs) is not read."""
    from dockyard.oci.base import open_base
    from dockyard.oci.probe import read_files
    from dockyard.testing.archives import compress, config_for, oci_layout, tar

    def image(name, tars, damaged_bottom=False):
        blobs = [compress(t, "gzip") for t in tars]
        if damaged_bottom:
            blobs[0] = blobs[0][: len(blobs[0]) // 2]
        oci_layout(tmp_path / name, blobs, config_for(tars))
        return open_base(f"oci:{tmp_path / name}")

    bottom = tar({"opt/dockyard/sbom.cdx.json": b"old", "opt/dockyard/dockyard.lock": b"L",
                  "opt/env/big": b"x" * 100_000})
    middle = tar({"opt/dockyard/.wh.dockyard.lock": b""})
    top = tar({"opt/dockyard/sbom.cdx.json": b"new"})
    want = {"/opt/dockyard/sbom.cdx.json", "/opt/dockyard/dockyard.lock"}
    assert read_files(image("three", [bottom, middle, top]), want) == {
        "/opt/dockyard/sbom.cdx.json": b"new"}
    # the bottom layer is damaged but never read: both files are settled above it
    assert read_files(image("cut", [bottom, middle, top], damaged_bottom=True), want) == {
        "/opt/dockyard/sbom.cdx.json": b"new"}
    # an opaque folder hides the lower layers' files; a file below it in its own layer stays
    opaque = tar({"opt/dockyard/.wh..wh..opq": b"", "opt/dockyard/dockyard.lock": b"L2"})
    assert read_files(image("opaque", [bottom, opaque]), want) == {
        "/opt/dockyard/dockyard.lock": b"L2"}
    # only the bottom layer has them: read to the bottom
    assert read_files(image("low", [bottom, tar({"etc/x": b"1"})]), want) == {
        "/opt/dockyard/sbom.cdx.json": b"old", "/opt/dockyard/dockyard.lock": b"L"}


def test_tree_mtimes_come_from_disk_unless_fixed(tmp_path):
    _tree(tmp_path)
    os.utime(tmp_path / "opt/app/run", (99, 99))
    got = {e.path: e.mtime for e in tree_entries(tmp_path, "/opt/app", 0, 0)}
    assert got["opt/app/run"] == 99
    with pytest.raises(BuildError, match="is not a folder"):
        list(tree_entries(tmp_path, "/missing", 0, 0))


def test_file_entries_are_root_owned_by_default(tmp_path):
    blob = write_layer([file_entry("/opt/dockyard/x.json", b"{}", 5)], tmp_path / "l.tar.gz")
    with tarfile.open(tmp_path / "l.tar.gz") as tar:
        m = tar.getmember("opt/dockyard/x.json")
    assert (m.uid, m.gid, m.mode, m.mtime, m.size) == (0, 0, 0o644, 5, 2) and blob.size > 0


class _Plan:
    env = (("NVIDIA_VISIBLE_DEVICES", "all"), ("PATH_X", "1"))
    labels = (("io.dockyard.kernel", "app"),)


BASE = {"architecture": "amd64", "os": "linux", "container": "abc",
        "config": {"Cmd": ["start.sh"], "Entrypoint": ["tini", "--"], "User": "1000",
                   "WorkingDir": "/home/u", "Env": ["PATH=/usr/bin", "PATH_X=0"],
                   "Labels": {"org.base": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
        "history": [{"created_by": "base"}]}


def test_the_config_keeps_the_bases_and_adds_the_plans():
    layer = NewLayer(Descriptor("x", "sha256:" + "2" * 64, 3), "sha256:" + "3" * 64, "env")
    doc = image_config(BASE, _Plan(), [layer], 315532800)
    conf = doc["config"]
    assert conf["Cmd"] == ["start.sh"] and conf["Entrypoint"] == ["tini", "--"]
    assert conf["User"] == "1000" and conf["WorkingDir"] == "/home/u"
    assert conf["Env"] == ["PATH=/usr/bin", "NVIDIA_VISIBLE_DEVICES=all", "PATH_X=1"]
    assert conf["Labels"] == {"org.base": "yes", "io.dockyard.kernel": "app"}
    assert doc["rootfs"]["diff_ids"][-1] == "sha256:" + "3" * 64
    assert doc["history"][-1] == {"created": "1980-01-01T00:00:00Z", "created_by": "env"}
    assert "container" not in doc and BASE["config"]["Env"] == ["PATH=/usr/bin", "PATH_X=0"]
    assert rfc3339(0) == "1970-01-01T00:00:00Z"


def test_registry_references():
    assert parse_reference("docker://127.0.0.1:5000/a/b:1") == ("127.0.0.1:5000", "a/b", "1")
    assert parse_reference("reg.example/app") == ("reg.example", "app", "latest")
    assert parse_reference("localhost/app@sha256:ab") == ("localhost", "app", "sha256:ab")
    with pytest.raises(BuildError, match="does not name a registry"):
        parse_reference("app:1")


def test_credentials_from_configs_helpers_and_env(tmp_path, monkeypatch):
    for var in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKYARD_REGISTRY_USERNAME",
                "DOCKYARD_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert credentials("reg.example") is None
    (tmp_path / "docker").mkdir()
    auth = base64.b64encode(b"alice:s3cret").decode()
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread host\necho "{\\"Username\\": \\"bob\\", '
                      '\\"Secret\\": \\"from-$host\\"}"\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    (tmp_path / "docker" / "config.json").write_text(json.dumps({
        "auths": {"https://reg.example/v1/": {"auth": auth},
                  "other.example:5000": {"username": "carol", "password": "pw"}},
        "credHelpers": {"helped.example": "fake"}}))
    assert credentials("reg.example") == ("alice", "s3cret")
    assert credentials("other.example:5000") == ("carol", "pw")
    assert credentials("helped.example") == ("bob", "from-helped.example")
    assert credentials("unknown.example") is None
    containers = tmp_path / "auth.json"
    containers.write_text(json.dumps({"auths": {"reg.example": {
        "auth": base64.b64encode(b"dave:pw2").decode()}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(containers))
    assert credentials("reg.example") == ("dave", "pw2")  # podman login's file first
    monkeypatch.setenv("DOCKYARD_REGISTRY_USERNAME", "ci")
    monkeypatch.setenv("DOCKYARD_REGISTRY_PASSWORD", "token")
    assert credentials("reg.example") == ("ci", "token")
    assert credentials("reg.example", env=False) == ("dave", "pw2")  # not for a base's registry


def _lock() -> Lock:
    conda = LockedPackage(
        name="esmf", version="8.6.1", owner="conda",
        source="https://conda.example.org/conda-forge", reason="environment.yml:5",
        build="nompi_h4441c20_3", subdir="linux-64", depends=("libgcc",),
        artifacts=(Artifact("https://conda.example.org/conda-forge/linux-64/"
                            "esmf-8.6.1-nompi_h4441c20_3.conda", "a" * 64,
                            "esmf-8.6.1-nompi_h4441c20_3.conda"),))
    libgcc = LockedPackage(name="libgcc", version="14.2.0", owner="conda",
                           source="https://conda.example.org/conda-forge", reason="dep",
                           build="h77fa898_1", subdir="linux-64",
                           artifacts=(Artifact("https://conda.example.org/conda-forge/linux-64/"
                                               "libgcc-14.2.0-h77fa898_1.tar.bz2", "b" * 64),))
    numpy = LockedPackage(name="numpy", version="1.26.4", owner="pypi",
                          source="https://pypi.org/simple", reason="pyproject.toml:12",
                          groups=("main",), artifacts=(
                              Artifact("https://files.example.org/numpy-1.26.4-cp312.whl",
                                       "c" * 64),
                              Artifact("https://files.example.org/numpy-1.26.4.tar.gz",
                                       "d" * 64)))
    git = LockedPackage(name="xrpatch", version="0.3.0", owner="pypi",
                        source="git+https://git.example.org/x/xrpatch.git", reason="custom",
                        commit="e" * 40, groups=("main",))
    me = LockedPackage(name="minicase", version="0.1.0", owner="pypi", source="path:.",
                       reason="the project")
    return Lock(inputs_hash="sha256:" + "f" * 64, target=Target(python="3.12.1"),
                packages=(conda, libgcc, numpy, git, me)).normalized()


def test_the_sbom_names_every_package_with_its_purl_and_hashes():
    from dockyard.sbom import components, make_sbom, prefix_of, validate

    data = make_sbom(_lock(), project="minicase", version="0.1.0",
                     base="registry.example/platform/jupyter:2026.11",
                     base_digest="sha256:" + "9" * 64, prefix="/opt/dockyard/env", epoch=0)
    validate(data)  # the CycloneDX 1.6 JSON schema, strict
    doc = json.loads(data)
    purls = {c["name"]: c["purl"] for c in doc["components"]}
    assert purls["esmf"] == ("pkg:conda/esmf@8.6.1?build=nompi_h4441c20_3&channel=https://"
                             "conda.example.org/conda-forge&subdir=linux-64&type=conda")
    assert purls["libgcc"].endswith("&type=tar.bz2")
    assert purls["numpy"] == "pkg:pypi/numpy@1.26.4"
    assert purls["xrpatch"] == ("pkg:pypi/xrpatch@0.3.0?vcs_url=git%2Bhttps://git.example.org/"
                                "x/xrpatch.git%40" + "e" * 40)
    base = next(c for c in doc["components"] if c["type"] == "container")
    assert base["name"] == "registry.example/platform/jupyter"
    assert base["hashes"] == [{"alg": "SHA-256", "content": "9" * 64}]
    numpy = next(c for c in doc["components"] if c["name"] == "numpy")
    assert {h["content"] for h in numpy["hashes"]} == {"c" * 64, "d" * 64}
    assert doc["metadata"]["component"]["name"] == "minicase"  # the subject, not a library
    assert "minicase" not in purls
    assert doc["metadata"]["timestamp"].startswith("1970-01-01")
    assert prefix_of(data) == "/opt/dockyard/env"
    assert components(data)[("conda", "esmf")] == "8.6.1"
    esmf_deps = next(d for d in doc["dependencies"] if d["ref"] == "conda:esmf")
    assert esmf_deps["dependsOn"] == ["conda:libgcc"]
    again = make_sbom(_lock(), project="minicase", version="0.1.0",
                      base="registry.example/platform/jupyter:2026.11",
                      base_digest="sha256:" + "9" * 64, prefix="/opt/dockyard/env", epoch=0)
    assert again == data


def test_a_damaged_sbom_fails_validation():
    from dockyard.sbom import validate

    with pytest.raises(BuildError, match="CycloneDX"):
        validate(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6",
                             "components": [{"type": "nonsense"}]}).encode())


def test_build_usage_errors():
    from dockyard.testing.cli import run_cli

    code, out = run_cli("build", "--base", "x", "--engine", "none", "-t", "y")
    assert code == 2 and "needs somewhere to put the image" in out and "oci:DIR" in out
    code, out = run_cli("build", "--base", "x", "-t", "y", "--output", "oci:z")
    assert code == 2 and "--engine none" in out
    code, out = run_cli("sbom")
    assert code == 2 and "IMAGE or --lock" in out

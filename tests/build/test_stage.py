"""The context stager's pieces: fetch with sha256, source filtering, secrets, conda install."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from dockyard.engines import is_loopback
from dockyard.errors import BuildError
from dockyard.pipeline import parse_secrets
from dockyard.plan.model import CondaArtifact
from dockyard.render.stage import FIXED_MTIME, _fix_mtimes, copy_tree, fetch, install_conda


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_fetch_checks_sha256_and_caches(tmp_path):
    src = tmp_path / "pkg-1.0-0.conda"
    src.write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    with pytest.raises(BuildError, match="sha256 mismatch") as err:
        fetch(src.as_uri(), "0" * 64, "conda package pkg")
    assert "dockyard lock" in err.value.hint
    got = fetch(src.as_uri(), good, "conda package pkg")
    assert got.read_bytes() == b"payload" and got.name == "pkg-1.0-0.conda"
    src.unlink()  # the second time comes from the cache
    assert fetch(src.as_uri(), good, "conda package pkg") == got


def test_fetch_unreachable_is_a_build_error(tmp_path):
    with pytest.raises(BuildError, match="cannot fetch"):
        fetch((tmp_path / "missing.conda").as_uri(), "0" * 64, "conda package missing")


def test_copy_tree_leaves_out_vcs_caches_and_secrets(tmp_path, caplog):
    src = tmp_path / "proj"
    for rel in ("pkg/__init__.py", "pkg/__pycache__/x.pyc", ".git/HEAD", ".venv/bin/python",
                "build/lib/x.py", "dist/x.whl", "dockyard.lock", ".env", "id.pem",
                "pkg.egg-info/PKG-INFO", "docs/build/keep.txt", "README.md", "out/Containerfile"):
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    dst = tmp_path / "ctx"
    logger = logging.getLogger("dockyard")  # the CLI may have stopped its propagation
    logger.addHandler(caplog.handler)
    try:
        copy_tree(src, dst, exclude=src / "out")
    finally:
        logger.removeHandler(caplog.handler)
    got = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert got == ["README.md", "docs/build/keep.txt", "pkg/__init__.py"]
    warned = sorted({r.getMessage() for r in caplog.records if r.levelname == "WARNING"})
    assert warned == [f"left out of the build context (looks like a credential): {name}"
                      for name in (".env", "id.pem")]


def test_fixed_mtimes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    os.symlink("f", tmp_path / "a" / "link")
    _fix_mtimes(tmp_path)
    assert {os.lstat(p).st_mtime for p in [tmp_path, *tmp_path.rglob("*")]} == {FIXED_MTIME}


def test_parse_secrets(tmp_path, monkeypatch):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert parse_secrets([f"id=netrc,src={ca}"]) == {"netrc": str(ca)}
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert parse_secrets([]) == {"ca": str(ca)}  # the host's trust store by default
    with pytest.raises(BuildError, match="expected id=ID,src=PATH"):
        parse_secrets(["ca"])
    with pytest.raises(BuildError, match="is not a file"):
        parse_secrets([f"id=ca,src={tmp_path / 'nope'}"])


@pytest.mark.parametrize("dest,loop", [
    ("127.0.0.1:5000/app:1", True), ("localhost:5000/app", True), ("[::1]:5000/a", True),
    ("registry.example.org/app:1", False), ("docker://127.0.0.1:5000/app:1", True),
])
def test_is_loopback(dest, loop):
    assert is_loopback(dest) is loop


def test_install_conda_for_another_prefix(tmp_path):
    from dockyard.testing.channel import CondaPackage, build_channel

    url = build_channel(tmp_path / "channel", [
        CondaPackage("libdemo", "1.0", files={"share/demo/data.txt": "demo\n"}),
        CondaPackage("demo", "1.0", depends=("libdemo",), dist="demo",
                     site_packages="lib/python3.12/site-packages"),
    ])
    artifacts = []
    for conda in sorted((tmp_path / "channel" / "linux-64").glob("*.conda")):
        name, version, build = conda.name.removesuffix(".conda").rsplit("-", 2)
        artifacts.append(CondaArtifact(name, version, build, conda.name,
                                       f"{url}/linux-64/{conda.name}",
                                       hashlib.sha256(conda.read_bytes()).hexdigest()))
    dest = tmp_path / "conda-env"
    seen = []
    install_conda(tuple(artifacts), "/opt/dockyard/env", dest, seen.append)
    assert (dest / "share/demo/data.txt").read_text() == "demo\n"
    assert (dest / "lib/python3.12/site-packages/demo-1.0.dist-info/METADATA").exists()
    assert sorted(p.name for p in (dest / "conda-meta").glob("*.json")) == [
        "demo-1.0-0.json", "libdemo-1.0-0.json"]
    assert seen == ["conda demo 1.0", "conda libdemo 1.0"]
    assert not Path("/opt/dockyard/env/conda-meta/demo-1.0-0.json").exists()  # only in dest


PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"


def legacy_package(path: Path, name: str, files: dict[str, str]) -> None:
    """A .tar.bz2 conda package whose text files carry conda's prefix placeholder."""
    import io
    import json
    import tarfile

    index = {"name": name, "version": "1.0", "build": "0", "build_number": 0,
             "subdir": "linux-64", "depends": []}
    paths = {"paths_version": 1, "paths": [
        {"_path": rel, "path_type": "hardlink", "file_mode": "text",
         "prefix_placeholder": PLACEHOLDER, "size_in_bytes": len(text.encode()),
         "sha256": hashlib.sha256(text.encode()).hexdigest()} for rel, text in files.items()]}
    members = {**files, "info/index.json": json.dumps(index),
               "info/paths.json": json.dumps(paths)}
    with tarfile.open(path, "w:bz2") as tar:
        for rel, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_install_conda_patches_files_for_the_image_prefix(tmp_path):
    pkg = tmp_path / "tool-1.0-0.tar.bz2"
    legacy_package(pkg, "tool", {"bin/tool": f"#!{PLACEHOLDER}/bin/python\n",
                                 "etc/tool.conf": f"home={PLACEHOLDER}/share\n"})
    art = CondaArtifact("tool", "1.0", "0", pkg.name, pkg.as_uri(),
                        hashlib.sha256(pkg.read_bytes()).hexdigest())
    dest = tmp_path / "conda-env"
    install_conda((art,), "/opt/dockyard/env", dest)
    assert (dest / "bin/tool").read_text() == "#!/opt/dockyard/env/bin/python\n"
    assert (dest / "etc/tool.conf").read_text() == "home=/opt/dockyard/env/share\n"


def test_the_projects_own_dockerignore(tmp_path):
    from dockyard.render.stage import ignore_rules

    src = tmp_path / "proj"
    for rel in ("pkg/__init__.py", "data/big.nc", "data/keep.txt", "notebooks/a.ipynb",
                "pkg/sub/scratch.tmp", "README.md"):
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (src / ".dockerignore").write_text("# large inputs\ndata\n!data/keep.txt\nnotebooks/\n"
                                       "**/*.tmp\n")
    dst = tmp_path / "ctx"
    copy_tree(src, dst, rules=ignore_rules(src))
    got = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert got == [".dockerignore", "README.md", "data/keep.txt", "pkg/__init__.py"]


def test_build_requires(tmp_path):
    from dockyard.render.stage import PEP517_DEFAULT, build_requires

    assert build_requires(tmp_path) == PEP517_DEFAULT  # no pyproject.toml: setuptools
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert build_requires(tmp_path) == PEP517_DEFAULT
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling>=1.24"]\nbuild-backend = "hatchling.build"\n')
    assert build_requires(tmp_path) == ("hatchling>=1.24",)
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(BuildError, match="not valid TOML"):
        build_requires(tmp_path)

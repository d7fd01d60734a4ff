"""The PyPI side with the real uv against PyPI, on small sets."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError
from dockyard.lock import pypi
from dockyard.lock.model import dumps
from dockyard.lock.resolve import lock_project
from dockyard.spec import GitSource, Index, Origin, ProjectSpec, PypiRequirement, Settings

pytestmark = pytest.mark.network

T312 = pypi.Target(python="3.12.11", glibc="2.28")


def req(name, spec="", **kw):
    kw.setdefault("origin", Origin("pyproject.toml", 7, "project.dependencies"))
    return PypiRequirement(name, spec, **kw)


def test_parse_annotations_gives_direct_dependencies_and_index():
    text = (
        "click==8.5.1              # via dask, distributed\n"
        "    # from https://pypi.org/simple\n"
        "dask==2026.8.0            # via distributed, -r r2.in\n"
        "    # from https://pypi.org/simple\n"
        "xrpatcher @ git+https://github.com/j/x.git@abc  # via dockyard-resolve (pyproject.toml)\n"
        "torch==2.6.0  # via torchvision\n"
        "    # from https://u:tok@download.example/whl\n"
    )
    depends, index = pypi.parse_annotations(text)
    assert depends["dask"] == {"click"}
    assert depends["distributed"] == {"click", "dask"}
    assert depends["torchvision"] == {"torch"}
    assert depends["xrpatcher"] == set()
    assert index["torch"] == "https://download.example/whl"


def test_throwaway_pyproject_routes_sources_and_explicit_indexes(tmp_path):
    request = pypi.Request(
        requirements=(
            req("torch", ">=2.6"),
            req("xrpatcher", git=GitSource("https://github.com/j/xrpatcher.git", "branch", "main")),
            req("local", path="libs/local"),
        ),
        target=T312,
        indexes=(Index("cu126", "https://download.example/whl/cu126", explicit=True),),
        routes=(("torch", "cu126"), ("absent", "cu126")),
        root=str(tmp_path),
    )
    doc = pypi.pyproject_for(request)
    assert doc["project"]["dependencies"] == ["torch>=2.6", "xrpatcher", "local"]
    sources = doc["tool"]["uv"]["sources"]
    assert sources["torch"] == {"index": "cu126"}
    assert sources["xrpatcher"] == {"git": "https://github.com/j/xrpatcher.git", "branch": "main"}
    assert sources["local"] == {"path": str(tmp_path / "libs" / "local")}
    assert "absent" not in sources
    assert doc["tool"]["uv"]["index"] == [
        {"name": "cu126", "url": "https://download.example/whl/cu126", "explicit": True}]


def test_compile_for_the_target_not_the_host_with_git_pinned(git_github):
    got = pypi.compile(pypi.Request(
        requirements=(
            req("charset-normalizer", "==3.5.2"),
            req("xrpatcher", git=GitSource("https://github.com/jejjohnson/xrpatcher.git",
                                           "branch", "main")),
        ),
        target=T312,
        constraints=("numpy<2",),
    ))
    by = {p.name: p for p in got}
    assert set(by) == {"charset-normalizer", "numpy", "xrpatcher"}
    # The host runs 3.11; the target is 3.12 on manylinux 2.28.
    wheels = [a.filename for a in by["charset-normalizer"].artifacts if a.filename.endswith("whl")]
    assert any("cp312" in w for w in wheels) and not any("cp311" in w for w in wheels)
    assert not any("macosx" in w or "win" in w for w in wheels)
    assert all(len(a.sha256) == 64 for p in got for a in p.artifacts)
    assert by["numpy"].version.startswith("1.")
    assert by["xrpatcher"].commit == git_github["xrpatcher"]
    assert by["xrpatcher"].source == "git+https://github.com/jejjohnson/xrpatcher.git"
    assert by["xrpatcher"].depends == ("numpy",)
    assert by["numpy"].source == pypi.PYPI_SIMPLE


def test_credentials_in_a_git_url_never_reach_the_lock(git_github, caplog):
    url = "https://x-access-token:s3cret@github.com/jejjohnson/xrpatcher.git"
    spec = ProjectSpec(root="/", pypi=(req("xrpatcher", git=GitSource(url, "branch", "main")),),
                       settings=Settings(python="3.12"))
    lines: list[str] = []
    lock = lock_project(spec, tools=(), progress=lines.append)
    text = dumps(lock)
    assert lock.get("xrpatcher").commit == git_github["xrpatcher"]
    assert "s3cret" not in text and "s3cret" not in "\n".join(lines) + caplog.text


@pytest.mark.parametrize(
    ("requirements", "words"),
    [
        ((req("dockyard-no-such-package-zz"),),
         ["not on the PyPI indexes", "dockyard-no-such-package-zz", "check the package name"]),
        ((req("numpy", "<1.20"), req("numpy", ">=2")),
         ["cannot be satisfied together", "numpy", "relax"]),
    ],
)
def test_resolution_errors_say_what_and_where(requirements, words):
    with pytest.raises(LockError) as info:
        pypi.compile(pypi.Request(requirements=requirements, target=T312))
    text = str(info.value)
    for word in words:
        assert word in text
    assert info.value.where == "pyproject.toml:7 (project.dependencies)"
    assert "dockyard-resolve" not in text


def test_unreachable_index_is_named_without_its_credentials(closed_port):
    index = Index("private", f"http://user:s3cret@127.0.0.1:{closed_port}/simple", default=True)
    with pytest.raises(LockError) as info:
        pypi.compile(pypi.Request(requirements=(req("rich"),), target=T312, indexes=(index,),
                                  env={"UV_HTTP_RETRIES": "0"}))
    text = str(info.value)
    assert "unreachable" in text and f"127.0.0.1:{closed_port}" in text
    assert "s3cret" not in text


def test_a_path_dependency_is_locked_relative_and_without_a_version(tmp_path):
    """aframe-legacy's `"aframe.priors" = {path = "../priors"}`: uv's pylock gives an
    absolute directory and no version; the lock keeps neither this machine's path nor a
    made-up version, and reads back."""
    from dockyard.lock.model import Lock, Target, dumps, loads
    from dockyard.lock.pypi import _relative_paths, packages_from

    root = tmp_path / "libs" / "analysis"
    pylock = {"packages": [{"name": "aframe-priors",
                            "directory": {"path": str(tmp_path / "libs" / "priors")}}]}
    (pkg,) = _relative_paths(packages_from(pylock), str(root))
    assert (pkg.source, pkg.version) == ("path:../priors", "")
    lock = Lock("sha256:0", Target(python="3.8"), packages=(pkg,))
    assert loads(dumps(lock)).packages[0].source == "path:../priors"

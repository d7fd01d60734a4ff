"""Plan/render inputs as data: recorded base facts and small hand-written locks."""

import json
from pathlib import Path

from dockyard.lock.model import Artifact, Lock, LockedPackage, Target
from dockyard.probe import parse_facts

PROBE_DATA = Path(__file__).parents[1] / "probe" / "data"
CHANNEL = "https://conda.example.org/channel"


def facts(name: str):
    doc = json.loads((PROBE_DATA / f"{name}.json").read_text())
    return parse_facts(doc["ref"], doc["config"], doc["output"])


def sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


WHEEL_TAGS = ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "py3-none-any",
              "cp313-cp313-win_amd64")


def pypi(name, version, *, source="https://pypi.org/simple", n=1):
    """A PyPI package with `n` (1-3) wheels: pure, + a Windows one, + a CPython 3.12 one."""
    stem = f"{name.replace('-', '_')}-{version}"
    tags = {1: WHEEL_TAGS[1:2], 2: WHEEL_TAGS[1:], 3: WHEEL_TAGS}[n]
    files = [f"{stem}-{tag}.whl" for tag in tags]
    return LockedPackage(name=name, version=version, owner="pypi", source=source, reason="test",
                         artifacts=tuple(Artifact(f"https://files.example.org/{f}",
                                                  sha(f"{name}{version}{i}"), f)
                                         for i, f in enumerate(files)))


def conda(name, version, build="h0_0", depends=()):
    filename = f"{name}-{version}-{build}.conda"
    return LockedPackage(name=name, version=version, owner="conda", source=CHANNEL,
                         reason="environment.yml:5", build=build, subdir="linux-64",
                         depends=tuple(depends),
                         artifacts=(Artifact(f"{CHANNEL}/linux-64/{filename}",
                                             sha(filename), filename),))


def make_lock(python="3.12.1", *, conda_python=True, extra=(), glibc="2.28"):
    pkgs = [pypi("ipykernel", "6.30.1", n=2), pypi("numpy", "1.26.4", n=3),
            pypi("xarray", "2025.1.0"),
            pypi("torch-stub", "1.0", source="https://download.example.org/whl/cu126"),
            LockedPackage(name="xrpatch", version="0.3.0", owner="pypi",
                          source="git+https://git.example.org/x/xrpatch.git", reason="custom",
                          commit="c" * 40),
            pypi("minicase", "0.1.0")]  # the project itself: built from source, not pinned
    if conda_python:
        pkgs += [conda("python", python, "h0_dockyard", ("__glibc >=2.17",)),
                 conda("libtinygeo", "1.0.0"), conda("tinygeo", "1.0.0", "py312h0_0")]
    return Lock(inputs_hash="sha256:" + "ab" * 32,
                target=Target(python=python, glibc=glibc, virtual_packages=(f"__glibc={glibc}",)),
                packages=tuple(pkgs) + tuple(extra)).normalized()


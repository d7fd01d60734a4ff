"""The conda side with real py-rattler solves on local channels (file:// and HTTP)."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError
from dockyard.lock import conda
from dockyard.lock.model import Artifact
from dockyard.testing.channel import (
    CondaPackage,
    build_channel,
    founding_case_packages,
    serve_channel,
)

EXTRA = [
    # Conda and PyPI names differ: the mapping must come from the package's own METADATA.
    CondaPackage("pytorch", "2.7.1", "cuda126_0", dist="torch",
                 depends=("python >=3.12,<3.13.0a0", "cuda-version >=12.6,<13", "__cuda")),
    CondaPackage("cuda-version", "12.4", "h0", subdir="noarch"),
    CondaPackage("cuda-version", "12.6", "h0", subdir="noarch"),
    CondaPackage("cuda-version", "12.8", "h0", subdir="noarch"),
    CondaPackage("cuda-cudart", "12.6.77", "h0", depends=("cuda-version >=12.6,<12.7",)),
    CondaPackage("cuda-cudart", "12.8.90", "h0", depends=("cuda-version >=12.8,<12.9",)),
    CondaPackage("needs-new-glibc", "1.0", "h0", depends=("__glibc >=2.34",)),
]


@pytest.fixture(scope="module")
def channel(tmp_path_factory) -> str:
    return build_channel(tmp_path_factory.mktemp("channel"), founding_case_packages() + EXTRA)


@pytest.fixture(scope="module")
def http_channel(channel):
    with serve_channel(channel.removeprefix("file://")) as url:
        yield url


def solve(channel, *specs, **kw):
    return {p.name: p for p in conda.solve(conda.Request(specs=specs, channels=(channel,), **kw))}


def test_solve_through_file_url_with_artifacts_and_edges(channel):
    got = solve(channel, "python 3.12.11.*", "esmpy", "xesmf")
    assert set(got) == {"python", "libzlib", "libesmf", "esmpy", "numpy", "xarray", "xesmf"}
    assert got["numpy"].version == "2.1.0"  # the highest, nothing binds it
    assert got["esmpy"].depends == ("libesmf", "numpy", "python")
    art = got["esmpy"].artifacts[0]
    assert art.url.startswith(channel) and len(art.sha256) == 64
    assert got["xesmf"].subdir == "noarch" and got["esmpy"].build == "py312_nompi_0"


def test_solve_through_http_on_loopback_with_pypi_constraints(http_channel):
    got = {p.name: p for p in conda.solve(conda.Request(
        specs=("esmpy",), channels=(http_channel, "nodefaults"),
        constraints=("numpy >=1.25,<2",)))}
    assert got["numpy"].version == "1.26.4"
    assert got["numpy"].artifacts[0].url.startswith("http://127.0.0.1:")
    assert got["numpy"].source == http_channel


def test_virtual_packages_are_the_targets_never_the_hosts(channel):
    # This machine has glibc 2.36; the target says 2.28.
    with pytest.raises(LockError, match="cannot be satisfied|__glibc"):
        solve(channel, "needs-new-glibc")
    assert solve(channel, "needs-new-glibc", glibc="2.34")["needs-new-glibc"]
    with pytest.raises(LockError):  # no GPU here, and no __cuda unless the target says so
        solve(channel, "pytorch")
    assert "__cuda=12.6" in conda.virtual_packages("linux-64", "2.28", "12.6")
    assert not any(v.startswith("__cuda") for v in conda.virtual_packages("linux-64", "2.28", None))


def test_cuda_version_is_pinned_to_the_targets_cuda(channel):
    got = solve(channel, "pytorch", "cuda-cudart", cuda="12.6")
    assert got["cuda-version"].version == "12.6"
    assert got["cuda-cudart"].version == "12.6.77"
    assert solve(channel, "cuda-cudart", cuda="12.8")["cuda-cudart"].version == "12.8.90"


def test_distributions_come_from_the_packages_own_metadata(channel, tmp_path):
    pkgs = conda.solve(conda.Request(specs=("pytorch", "xesmf"), channels=(channel,),
                                     cuda="12.6"))
    read, notes = conda.distributions(pkgs, cache=tmp_path)
    provides = {p.name: p.provides for p in read}
    assert provides["pytorch"] == ("torch",)
    assert provides["xesmf"] == ("xesmf",) and provides["libesmf"] == ()
    assert notes == ()
    assert len(list(tmp_path.rglob("*.conda"))) == 5  # the python packages, cached once


def test_unreadable_package_falls_back_to_name_equality_and_says_so(channel, tmp_path):
    pkgs = conda.solve(conda.Request(specs=("xarray",), channels=(channel,)))
    broken = tuple(
        p if p.name != "xarray" else
        type(p)(**{**{f: getattr(p, f) for f in p.__slots__},
                   "artifacts": (Artifact(p.artifacts[0].url, "0" * 64, "x.conda"),)})
        for p in pkgs
    )
    read, notes = conda.distributions(broken, cache=tmp_path)
    assert {p.name: p.provides for p in read}["xarray"] == ("xarray",)
    assert "sha256" in notes[0].message and "name equality" in notes[0].message


@pytest.mark.parametrize(
    ("specs", "words"),
    [
        (("no-such-conda-pkg",), ["'no-such-conda-pkg' is not on the channels", "check the"]),
        (("numpy >=3",), ["no version of numpy", "'>=3'", "relax the spec on numpy"]),
        (("esmpy", "numpy 1.26.*", "numpy >=2"), ["cannot be satisfied", "numpy >=2", "relax"]),
    ],
)
def test_solve_errors_say_what_and_where(channel, specs, words):
    with pytest.raises(LockError) as info:
        solve(channel, *specs, where="environment.yml")
    for word in words:
        assert word in str(info.value)
    assert info.value.where == "environment.yml"


def test_unreachable_channel(closed_port):
    with pytest.raises(LockError) as info:
        solve(f"http://user:s3cret@127.0.0.1:{closed_port}/ch", "numpy")
    assert "unreachable" in str(info.value) and "s3cret" not in str(info.value)


def test_strict_channel_priority(tmp_path, channel):
    newer = build_channel(tmp_path / "newer", [
        CondaPackage("numpy", "2.3.0", "py312_0", depends=("python >=3.12,<3.13.0a0",))])
    assert solve(channel, "numpy", "python 3.12.*")["numpy"].version == "2.1.0"
    mixed = conda.solve(conda.Request(specs=("numpy", "python 3.12.*"),
                                      channels=(channel, newer), channel_priority="strict"))
    assert {p.name: p.version for p in mixed}["numpy"] == "2.1.0"
    flexible = conda.solve(conda.Request(specs=("numpy", "python 3.12.*"),
                                         channels=(channel, newer), channel_priority="flexible"))
    assert {p.name: p.version for p in flexible}["numpy"] == "2.3.0"


def test_a_real_build_string_the_strict_parser_refuses_still_solves(tmp_path):
    """ClimSim's `conda env export`: `cudnn=8.2.1=cuda11.3_0` (defaults' build string has a
    dot, which rattler's solver refuses in a spec): the spec becomes a glob matching it."""
    assert conda.strict_spec("cudnn ==8.2.1 cuda11.3_0") == "cudnn ==8.2.1 cuda11*3_0"
    assert conda.strict_spec("pytorch >=2.0.0 *cuda118*") == "pytorch >=2.0.0 *cuda118*"
    url = build_channel(tmp_path / "ch", [CondaPackage("cudnn", "8.2.1", "cuda11.3_0"),
                                          CondaPackage("cudnn", "8.2.1", "cuda11.6_0")])
    (pkg,) = conda.solve(conda.Request(specs=("cudnn ==8.2.1 cuda11.3_0",), channels=(url,)))
    assert (pkg.version, pkg.build) == ("8.2.1", "cuda11.3_0")

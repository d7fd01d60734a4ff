"""The stand-in channel helper (conda-forge is unreachable here): what it makes up, and that
the makeup is a real channel a real solve reads."""

from __future__ import annotations

from dockyard.lock import conda
from dockyard.sources import match_spec
from dockyard.spec import Origin, Pin, ProjectLock, ProjectSpec
from dockyard.testing.standin import choose_version, standin_channel, standin_packages


def spec_of(*specs: str, pins: tuple[Pin, ...] = (), root: str = "/p") -> ProjectSpec:
    conda_reqs = tuple(match_spec(s, Origin("environment.yml", i + 5))
                       for i, s in enumerate(specs))
    locks = (ProjectLock("conda-linux-64.lock", "conda-lock", walk=False, pins=pins),) \
        if pins else ()
    return ProjectSpec(root=root, conda=conda_reqs, pins=pins, locks=locks)


def test_versions_meet_every_spec():
    assert choose_version(["esmpy ==7.1.0r"]) == "7.1.0r"  # xESMF's binder, not PEP 440
    assert choose_version(["numpy >=1.25,<2"]) == "1.26"
    assert choose_version(["python 3.7.*"]).startswith("3.7.")
    assert choose_version(["soupsieve ==2.3.2.post1 pyhd8ed1ab_0"]) == "2.3.2.post1"


def test_builds_names_and_pythons():
    pkgs = {(p.name, p.version): p for p in standin_packages(spec_of(
        "pytorch>=2.0.0=*cuda118*", "cudnn=8.2.1=cuda11.3_0", "libgdal", "python >=3.10"))}
    torch = next(p for (n, _), p in pkgs.items() if n == "pytorch")
    assert torch.build == "cuda118_0" and torch.dist == "torch" and "python" in torch.depends
    assert next(p for (n, _), p in pkgs.items() if n == "cudnn").build == "cuda11.3_0"
    assert next(p for (n, _), p in pkgs.items() if n == "libgdal").dist is None
    pythons = sorted(v for n, v in pkgs if n == "python")
    assert "3.9.19" not in pythons and {"3.10.14", "3.12.11"} <= set(pythons)


def test_a_locked_version_comes_with_a_newer_one_and_the_pin_binds(tmp_path):
    linux = 'sys_platform == "linux" and platform_machine == "x86_64"'
    pin = Pin("xarray", "2025.1.0", "conda-linux-64.lock", marker=linux, manager="conda",
              build="pyhd8ed1ab_0")
    (tmp_path / "conda-linux-64.lock").write_text(
        "# platform: linux-64\n@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/noarch/"
        "xarray-2025.1.0-pyhd8ed1ab_0.conda#0\n")
    spec = spec_of("xarray", "python=3.12", pins=(pin,), root=str(tmp_path))
    versions = sorted(p.version for p in standin_packages(spec) if p.name == "xarray")
    assert versions == ["2025.1.0", "2025.1.1"]
    url = standin_channel(spec, tmp_path / "ch")
    free = conda.solve(conda.Request(specs=("xarray", "python 3.12.*"), channels=(url,)))
    bound = conda.solve(conda.Request(specs=("xarray", "python 3.12.*"), channels=(url,),
                                      constraints=("xarray ==2025.1.0",)))
    assert {p.name: p.version for p in free}["xarray"] == "2025.1.1"
    assert {p.name: p.version for p in bound}["xarray"] == "2025.1.0"

"""Defects 4 and 5: conda's version meets every request on a package it owns; requires-python
is checked against the target's Python. Resolvers are fakes at their seams here (what they
return is plain data); the rules and messages are the real ones."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError
from dockyard.lock import rules
from dockyard.lock.model import LockedPackage
from dockyard.lock.resolve import lock_project
from dockyard.spec import (
    CondaRequirement,
    GitSource,
    Origin,
    Pin,
    ProjectLock,
    ProjectSpec,
    PypiRequirement,
    Settings,
)


def cpkg(name, version, provides=None):
    return LockedPackage(name, version, "conda", "file:///ch", "", depends=("python",),
                         provides=(name,) if provides is None else provides)


XESMF_TAG = GitSource("https://github.com/pangeo-data/xESMF.git", "tag", "v0.9.2")


def xesmf_project(**settings) -> ProjectSpec:
    """The issue's project: xesmf from conda, from git at tag v0.9.2, poetry.lock 0.9.2."""
    lock_pin = Pin("xesmf", "0.9.2", "poetry.lock", "9c0f4e5" + "0" * 33,
                   "https://github.com/pangeo-data/xESMF.git", line=812)
    return ProjectSpec(
        root="/p", name="dctools", requires_python=">=3.11,<3.14",
        requires_python_origin=Origin("pyproject.toml", 17, "project.requires-python"),
        conda=(CondaRequirement("python", "python 3.12.*", origin=Origin("environment.yml", 7)),
               CondaRequirement("xesmf", "xesmf", origin=Origin("environment.yml", 10,
                                                                "dependencies[3]"))),
        pypi=(PypiRequirement("xesmf", git=XESMF_TAG, group="custom",
                              origin=Origin("pyproject.toml", 64, "tool.poetry.group.custom."
                                            "dependencies.xesmf")),),
        pins=(lock_pin,),
        locks=(ProjectLock("poetry.lock", "poetry", pins=(lock_pin,)),),
        settings=Settings(kernel=False, **settings))


def fake_conda(versions: dict[str, str]):
    """A conda 'channel' with one version each: a request it cannot meet is unsatisfiable."""
    def solve(request):
        for c in request.constraints:
            name, _, spec = c.partition(" ")
            if name in versions and spec.startswith("==") and spec[2:] != versions[name]:
                raise LockError("the conda requirements cannot be satisfied together:\n"
                                f"  {name} {spec} is not available", where=request.where)
        return tuple(cpkg(n, v, () if n == "python" else None) for n, v in versions.items())
    return solve


def no_read(pkgs, on_line=None):
    return tuple(pkgs), ()


def test_disagreements_name_every_request_conda_does_not_meet():
    spec = xesmf_project()
    requests = rules.select(spec, (), spec.pins)
    found = rules.conda_disagreements(requests, (cpkg("xesmf", "0.8.10"),))
    asked = sorted(d.asked for d in found)
    assert any("git tag v0.9.2 (version 0.9.2)" in a and "pyproject.toml:64" in a for a in asked)
    assert any("poetry.lock:812 pins xesmf" in a and "0.9.2" in a for a in asked)


def test_lock_stops_with_both_origins_and_the_fixes():
    spec = xesmf_project()
    with pytest.raises(LockError) as info:
        lock_project(spec, solve_conda=fake_conda({"python": "3.12.11", "xesmf": "0.8.10"}),
                     read_conda=no_read, compile_pypi=lambda *a, **k: (), tools=())
    err = info.value
    assert "conda's xesmf 0.8.10 does not meet" in err.message
    assert "environment.yml:10" in err.message and "pyproject.toml:64" in err.message
    assert err.where == "environment.yml:10 (dependencies[3])"
    assert '[sources] xesmf = "pypi"' in err.hint and "environment.yml:10" in err.hint


def test_a_conda_version_that_meets_them_is_kept():
    spec = xesmf_project()
    lock = lock_project(spec, solve_conda=fake_conda({"python": "3.12.11", "xesmf": "0.9.2"}),
                        read_conda=no_read, compile_pypi=lambda *a, **k: (), tools=())
    assert lock.get("xesmf").version == "0.9.2" and lock.get("xesmf").owner == "conda"


def test_specifier_on_the_pypi_side_binds_conda_or_stops():
    spec = xesmf_project()
    spec = ProjectSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                          "pypi": (PypiRequirement("xesmf", ">=0.9", origin=Origin(
                              "pyproject.toml", 30)),), "pins": (), "locks": ()})
    found = rules.conda_disagreements(rules.select(spec, ()), (cpkg("xesmf", "0.8.10"),))
    assert [d.asked for d in found] == ["pyproject.toml:30 asks for xesmf>=0.9"]


def py_project(requires: str, **settings) -> ProjectSpec:
    return ProjectSpec(root="/p", requires_python=requires,
                       requires_python_origin=Origin("pyproject.toml", 6,
                                                     "project.requires-python"),
                       pypi=(PypiRequirement("rich", origin=Origin("pyproject.toml", 8)),),
                       settings=Settings(kernel=False, **settings))


def test_requires_python_against_the_settings_python():
    with pytest.raises(LockError) as info:
        lock_project(py_project("<3.12", python="3.12"), compile_pypi=lambda *a, **k: ())
    err = info.value
    assert err.where == "pyproject.toml:6 (project.requires-python)"
    assert "requires Python <3.12" in err.message and "3.12" in err.message
    assert "dockyard.toml ([target] python)" in err.message
    assert '[target] python = "3.11"' in err.hint


def test_requires_python_against_the_conda_python():
    spec = py_project("<3.12")
    spec = ProjectSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                          "conda": (CondaRequirement("python", "python >=3.10", origin=Origin(
                              "environment.yml", 5)),)})

    def solve(request):  # the channel has 3.12 only: with requires-python it is unsolvable
        if any(c.startswith("python <3.12") for c in request.constraints):
            raise LockError("the conda requirements cannot be satisfied together")
        return (cpkg("python", "3.12.11", ()),)

    with pytest.raises(LockError) as info:
        lock_project(spec, solve_conda=solve, read_conda=no_read,
                     compile_pypi=lambda *a, **k: (), tools=())
    assert "requires Python <3.12" in info.value.message
    assert "the conda solve" in info.value.message
    assert info.value.where == "pyproject.toml:6 (project.requires-python)"


def test_no_python_fits_blames_requires_python_not_dockyard_toml():
    with pytest.raises(LockError) as info:
        lock_project(py_project(">=3.15"), compile_pypi=lambda *a, **k: ())
    assert info.value.where == "pyproject.toml:6 (project.requires-python)"
    assert "dockyard.toml" not in (info.value.where or "")


def test_fitting_python_passes():
    seen = {}

    def compile_pypi(request, on_line=None):
        seen["python"] = request.target.python
        return ()

    lock_project(py_project(">=3.10,<3.12"), compile_pypi=compile_pypi)
    assert seen["python"] == "3.10"

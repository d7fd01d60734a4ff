"""The project issue 8 was found on, as its developers keep it (bench/corpus/ocean-ai-data-
challenges__dc-tools: pyproject.toml, poetry.lock, .devcontainer/environment.yml), read for
real; the resolvers are fakes at their seams where GitHub and conda-forge would be needed."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError, SpecError
from dockyard.lock import rules
from dockyard.lock.model import LockedPackage
from dockyard.lock.resolve import bind_pins, lock_project
from dockyard.sources import read_project
from dockyard.testing.corpus import copy_project, find_project


@pytest.fixture
def dctools(tmp_path):
    folder = find_project("ocean-ai-data-challenges__dc-tools")
    assert folder is not None, "bench/corpus/ocean-ai-data-challenges__dc-tools is missing"
    return copy_project(folder, tmp_path / "dc-tools")


@pytest.fixture
def fixed(dctools):
    """With the environment file's first line written as the conda spec it means."""
    env = dctools / ".devcontainer" / "environment.yml"
    env.write_text(env.read_text().replace('python(">=3.11.0,<3.14.0")',
                                           "python >=3.11.0,<3.14.0"))
    return dctools


def test_the_environment_file_in_devcontainer_is_found_and_its_bad_line_named(dctools):
    with pytest.raises(SpecError) as info:
        read_project(dctools)
    assert info.value.where.startswith(".devcontainer/environment.yml:6")
    assert "`python >=3.11.0,<3.14.0`" in info.value.hint


def test_torchgeo_and_netcdf4_splits_bind_one_version_each(fixed):
    spec = read_project(fixed)
    assert spec.environment == ".devcontainer/environment.yml"
    for python, torchgeo in (("3.11.9", "0.8.1"), ("3.12.11", "0.9.0")):
        pins = {p.name: p for p in bind_pins(spec, python)[0]}
        assert pins["torchgeo"].version == torchgeo
        assert pins["netcdf4"].version == "1.7.4"  # 1.7.3 is Windows on ARM64 only
        constraints = rules.select(spec, (), tuple(pins.values())).pypi_constraints
        assert sum(c.startswith("torchgeo==") for c in constraints) == 1


def test_git_requests_go_to_the_commits_the_lock_records(fixed):
    spec = read_project(fixed)
    pins, _ = bind_pins(spec, "3.12.11")
    requests = rules.select(spec, (), pins)
    pinned = {g.name: g for g in requests.git_pins}
    assert pinned["oceanbench"].commit == "dd7aff760b1d403ddb393ee66591487db5136540"
    assert (pinned["oceanbench"].kind, pinned["oceanbench"].ref) == ("branch", "main")
    assert pinned["xrpatcher"].commit == "d1578ff16c10ea835dafa241a90d31c8744a0a99"


def test_conda_xesmf_must_be_the_tagged_and_locked_0_9_2(fixed):
    spec = read_project(fixed)

    def solve(request):  # a channel whose only xesmf is 0.8.10 (what conda gave the team)
        if any(c.startswith("xesmf ==0.9.2") for c in request.constraints):
            raise LockError("the conda requirements cannot be satisfied together")
        return tuple(LockedPackage(n, v, "conda", "file:///ch", "", depends=("python",),
                                   provides=() if n == "python" else (n,))
                     for n, v in (("python", "3.12.11"), ("esmpy", "8.9.0"),
                                  ("xesmf", "0.8.10")))

    with pytest.raises(LockError) as info:
        lock_project(spec, solve_conda=solve, read_conda=lambda p, on_line=None: (p, ()),
                     compile_pypi=lambda *a, **k: ())
    err = info.value
    assert "conda's xesmf 0.8.10 does not meet" in err.message
    assert "git tag v0.9.2 (version 0.9.2)" in err.message
    assert "poetry.lock" in err.message and "pins xesmf" in err.message
    assert err.where.startswith(".devcontainer/environment.yml:9")
    assert '[sources] xesmf = "pypi"' in err.hint

"""The founding case (dctools-seed) locked for real: conda on a stand-in channel, PyPI live.

One real resolve of ~200 PyPI packages per session (module fixture), run
twice through the CLI to prove the bytes are the same; several checks read it.
"""

from __future__ import annotations

import tomllib
from collections import Counter

import pytest

from dockyard.cli import main
from dockyard.lock.model import loads
from dockyard.testing.channel import founding_case

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def founding(tmp_path_factory):
    case = founding_case(tmp_path_factory.mktemp("founding"))
    project = case.project
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(case.gitconfig))
        # Its pins give torch 2.6.0 (CUDA 12.4) on a 12.6 platform: locked knowingly here;
        # tests/cuda checks that the mismatch stops `dockyard lock` by default.
        args = ["lock", "--project", str(project), "--accept-cuda-mismatch"]
        assert main(args) == 0
        first = (project / "dockyard.lock").read_bytes()
        assert main(args) == 0
        second = (project / "dockyard.lock").read_bytes()
    return {"project": project, "first": first, "second": second,
            "lock": loads(first.decode()), "git": case.commits}


def test_same_inputs_same_bytes(founding):
    assert founding["first"] == founding["second"]
    tomllib.loads(founding["first"].decode())  # and it is TOML


def test_every_distribution_has_exactly_one_owner(founding):
    lock = founding["lock"]
    dists = Counter()
    for p in lock.packages:
        for d in (p.provides if p.owner == "conda" else (p.name,)):
            dists[d] += 1
    assert dists and max(dists.values()) == 1
    assert all(p.reason for p in lock.packages)


def test_conda_owns_numpy_within_the_projects_constraint(founding):
    numpy = founding["lock"].get("numpy")
    assert (numpy.owner, numpy.version) == ("conda", "1.26.4")  # 2.1.0 is on the channel too
    assert "esmpy" in numpy.reason
    note = next(n for n in founding["lock"].notes if n.subject == "numpy")
    assert "not resolved again from PyPI" in note.message and "torch" in note.message


def test_xesmf_from_conda_by_default_and_the_git_request_dropped(founding):
    lock = founding["lock"]
    xesmf = lock.get("xesmf")
    assert xesmf.owner == "conda" and "conda owns it" in xesmf.reason
    assert not [p for p in lock.packages if p.owner == "pypi" and p.name == "xesmf"]
    assert any(n.subject == "xesmf" and "dropped" in n.message for n in lock.notes)


def test_poetry_is_a_tool_not_a_runtime_dependency(founding):
    lock = founding["lock"]
    assert lock.get("poetry") is None
    assert any(n.subject == "poetry" and "not a runtime dependency" in n.message
               for n in lock.notes)


def test_torch_and_nvidia_wheels_from_pypi_with_edges(founding):
    lock = founding["lock"]
    torch, vision = lock.get("torch"), lock.get("torchvision")
    assert torch.owner == vision.owner == "pypi"
    assert vision.version.startswith("0.21") and torch.version == "2.6.0"
    assert "torch" in vision.depends  # H4 explains "torchvision 0.21 forces torch 2.6.0"
    nvidia = [p for p in lock.packages if p.name.startswith("nvidia-")]
    assert nvidia and all(p.owner == "pypi" for p in nvidia)
    assert "nvidia-cuda-runtime-cu12" in torch.depends
    assert all(len(a.sha256) == 64 and a.url.startswith("https://")
               for p in lock.by_owner("pypi") for a in p.artifacts)


def test_git_dependency_pinned_to_its_commit(founding):
    xrpatcher = founding["lock"].get("xrpatcher")
    assert xrpatcher.commit == founding["git"]["xrpatcher"]
    assert xrpatcher.source == "git+https://github.com/jejjohnson/xrpatcher.git"
    assert xrpatcher.groups == ("custom",)


def test_target_and_sources(founding):
    lock = founding["lock"]
    assert (lock.target.python, lock.target.cuda, lock.target.glibc) == ("3.12.11", "12.6", "2.28")
    assert "__cuda=12.6" in lock.target.virtual_packages
    assert {s.kind for s in lock.sources} == {"channel", "index"}
    assert all(p.artifacts[0].url.startswith("file://") for p in lock.by_owner("conda"))


def test_check_is_fresh_then_stale_after_an_edit(founding):
    project = founding["project"]
    assert main(["lock", "--project", str(project), "--check"]) == 0
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    try:
        pyproject.write_text(original + "\n# an edit\n")
        assert main(["lock", "--project", str(project), "--check"]) == 1
    finally:
        pyproject.write_text(original)
    assert main(["lock", "--project", str(project), "--check"]) == 0


def test_the_accepted_cuda_mismatch_is_recorded_with_its_reason(founding):
    lock = founding["lock"]
    assert lock.target.cuda == "12.6"
    notes = [n.message for n in lock.notes if n.message.startswith("CUDA:")]
    assert any("12.4" in n and "(accepted)" in n and "torchvision" in n for n in notes), notes

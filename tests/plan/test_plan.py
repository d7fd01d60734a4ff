"""make_plan: the interpreter choice and every refusal, on recorded base facts."""

from dataclasses import replace

import pytest
from plandata import conda, facts, make_lock, pypi

from dockyard.errors import PlanError
from dockyard.plan import PlanSettings, describe, make_plan, needed_glibc
from dockyard.spec import ProjectSpec

PROJECT = ProjectSpec(root="/src/minicase", name="minicase")


@pytest.fixture
def jupyter_facts():
    return facts("platform-jupyter")


def test_second_interpreter_from_conda_beside_the_bases(jupyter_facts):
    plan = make_plan(make_lock(), jupyter_facts, PlanSettings(), PROJECT)
    i = plan.interpreter
    assert (i.kind, i.version) == ("conda", "3.12.1")
    assert i.python == "/opt/dockyard/env/bin/python"
    assert "3.13.5" in i.reason and "second interpreter" in i.reason
    assert plan.site_packages == "/opt/dockyard/env/lib/python3.12/site-packages"
    assert [c.name for c in plan.conda] == ["libtinygeo", "python", "tinygeo"]


def test_reuses_the_base_python_when_the_lock_fits(jupyter_facts):
    lock = make_lock("3.13.5", conda_python=False)
    plan = make_plan(lock, jupyter_facts, PlanSettings(), PROJECT)
    assert plan.interpreter.kind == "base"
    assert plan.interpreter.base_python == "/opt/python/bin/python3"  # the Jupyter one first
    assert plan.conda == ()


def test_python_the_base_lacks_without_conda_python(jupyter_facts):
    with pytest.raises(PlanError) as err:
        make_plan(make_lock("3.12.1", conda_python=False), jupyter_facts, project=PROJECT)
    assert "3.12.1" in err.value.message and "3.13.5" in err.value.message
    assert "python=3.12" in err.value.hint


def test_owner_kernel_user_and_cmd(jupyter_facts):
    plan = make_plan(make_lock(), jupyter_facts, PlanSettings(), PROJECT)
    assert plan.owner == "1000:100" and plan.owner_names == "onyxia:users"
    assert plan.base_user == "1000"
    assert plan.kernel.name == "minicase"
    assert plan.kernel.display_name == "minicase (Python 3.12)"
    assert plan.kernel.directory == "/opt/python/share/jupyter/kernels/minicase"  # not in $HOME
    assert plan.kernel.argv == ("/opt/dockyard/env/bin/python", "-m", "ipykernel_launcher",
                                "-f", "{connection_file}")
    assert plan.base_cmd == jupyter_facts.cmd and plan.base_entrypoint is None
    assert dict(plan.labels)["io.dockyard.kernel"] == "minicase"
    assert dict(plan.labels)["io.dockyard.lock"] == "/opt/dockyard/dockyard.lock"


def test_settings_override_kernel_names(jupyter_facts):
    plan = make_plan(make_lock(), jupyter_facts,
                     PlanSettings(kernel_name="My Kernel!", display_name="DC tools"), PROJECT)
    assert plan.kernel.name == "my-kernel" and plan.kernel.display_name == "DC tools"


def test_pins_by_kind(jupyter_facts):
    plan = make_plan(make_lock(), jupyter_facts, PlanSettings(), PROJECT)
    names = {w.name for w in plan.wheels}
    assert "minicase" not in names  # the project is built from its source
    assert {"ipykernel", "numpy", "xarray", "torch-stub"} <= names
    numpy = next(w for w in plan.wheels if w.name == "numpy")
    assert len(numpy.hashes) == 3
    torch = next(w for w in plan.wheels if w.name == "torch-stub")
    assert torch.index == "https://download.example.org/whl/cu126"
    (git,) = plan.sources
    assert (git.kind, git.url, git.commit) == ("git", "https://git.example.org/x/xrpatch.git",
                                                "c" * 40)


def test_path_dependency_becomes_a_source(jupyter_facts):
    from dockyard.lock.model import LockedPackage

    local = LockedPackage(name="helper", version="0.1", owner="pypi", source="path:libs/helper",
                          reason="test")
    plan = make_plan(make_lock(extra=(local,)), jupyter_facts, project=PROJECT)
    assert ("helper", "path", "libs/helper") in {(s.name, s.kind, s.url) for s in plan.sources}


def test_refuses_a_base_without_jupyter():
    with pytest.raises(PlanError, match="has no Jupyter") as err:
        make_plan(make_lock(), facts("platform-nojupyter"), project=PROJECT)
    assert "JupyterLab" in err.value.hint


def test_refuses_a_plain_debian_without_python_or_jupyter():
    with pytest.raises(PlanError, match="no Jupyter"):
        make_plan(make_lock(), facts("debian-trixie"), project=PROJECT)


def test_refuses_a_glibc_too_old(jupyter_facts):
    old = replace(jupyter_facts, glibc="2.17")
    with pytest.raises(PlanError, match="glibc 2.28") as err:
        make_plan(make_lock(), old, project=PROJECT)
    assert 'glibc = "2.17"' in err.value.hint


def test_glibc_from_conda_depends():
    lock = make_lock(extra=(conda("newlib", "1", depends=("__glibc >=2.34",)),))
    assert needed_glibc(lock) == "2.34"


def test_refuses_without_ipykernel(jupyter_facts):
    lock = make_lock()
    lock = replace(lock, packages=tuple(p for p in lock.packages if p.name != "ipykernel"))
    with pytest.raises(PlanError, match="ipykernel is not in the lock"):
        make_plan(lock, jupyter_facts, project=PROJECT)


def test_refuses_a_pypi_package_without_hashes(jupyter_facts):
    bare = replace(pypi("bare", "1.0"), artifacts=())
    with pytest.raises(PlanError, match="no artifact hash"):
        make_plan(make_lock(extra=(bare,)), jupyter_facts, project=PROJECT)


def test_root_base_gets_a_note(jupyter_facts):
    rootish = replace(jupyter_facts, user=replace(jupyter_facts.user, uid=0, gid=0,
                                                  config_user=""))
    plan = make_plan(make_lock(), rootish, project=PROJECT)
    assert plan.base_user == "" and any("runs as root" in n for n in plan.notes)


def test_describe_says_why(jupyter_facts):
    text = "\n".join(describe(make_plan(make_lock(), jupyter_facts, PlanSettings(
        secrets=("ca",)), PROJECT)))
    assert "second interpreter from conda" in text and "why:" in text
    assert "never overridden" in text and "secrets     ca" in text
    assert "1000:100 (onyxia:users)" in text


def test_plan_is_pure_and_deterministic(jupyter_facts):
    a = make_plan(make_lock(), jupyter_facts, PlanSettings(), PROJECT)
    b = make_plan(make_lock(), facts("platform-jupyter"), PlanSettings(), PROJECT)
    assert a == b


def test_nvidia_env_from_the_target_cuda(jupyter_facts):
    lock = make_lock()
    gpu = replace(lock, target=replace(lock.target, cuda="12.6"))
    env = dict(make_plan(gpu, jupyter_facts, project=PROJECT).env)
    assert env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.6" and env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert dict(make_plan(lock, jupyter_facts, project=PROJECT).env) == {}  # no GPU target
    # The CUDA base already says all of it: nothing to add.
    assert dict(make_plan(gpu, facts("platform-cuda"), project=PROJECT).env) == {}


def test_cuda_libraries_brought_twice_are_noted():
    runtime = pypi("nvidia-cuda-runtime-cu12", "12.6.77")
    lock = make_lock(extra=(runtime,))
    plan = make_plan(replace(lock, target=replace(lock.target, cuda="12.6")),
                     facts("platform-cuda"), project=PROJECT)
    assert any(n.startswith("CUDA: ") and "libraries duplicate" in n for n in plan.notes)


def test_a_base_entrypoint_is_kept_and_told(jupyter_facts):
    from dockyard.render import render

    tini = replace(jupyter_facts, entrypoint=("tini", "--"), cmd=None)
    plan = make_plan(make_lock(), tini, project=PROJECT)
    text = "\n".join(describe(plan))
    assert 'entrypoint  ["tini", "--"] (the base\'s)' in text and "cmd         (none)" in text
    rendered = render(plan).containerfile
    assert not any(line.startswith(("ENTRYPOINT", "CMD")) for line in rendered.splitlines())

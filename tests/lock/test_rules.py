"""The ownership rules as pure functions over plain data (no resolver runs here)."""

from __future__ import annotations

import pytest

from dockyard.errors import LockError
from dockyard.lock import rules
from dockyard.lock.model import LockedPackage
from dockyard.lock.resolve import inputs_hash, lock_project
from dockyard.spec import (
    CondaRequirement,
    GitSource,
    InputFile,
    Origin,
    Pin,
    ProjectSpec,
    PypiRequirement,
    Settings,
)

TOOLS = ("poetry", "pip", "uv")
ENV = "environment.yml"


def conda_req(name, spec=None, line=5):
    return CondaRequirement(name, spec or name, origin=Origin(ENV, line, "dependencies"))


def pypi_req(name, spec="", group="main", line=20, **kw):
    return PypiRequirement(name, spec, group=group, origin=Origin("pyproject.toml", line), **kw)


def cpkg(name, version, depends=(), provides=()):
    return LockedPackage(name, version, "conda", "file:///ch", "", depends=depends,
                         provides=provides)


def ppkg(name, version, depends=()):
    return LockedPackage(name, version, "pypi", "https://pypi.org/simple", "", depends=depends)


XESMF_GIT = GitSource("https://github.com/pangeo-data/xESMF.git", "branch", "master")


def founding_like(**settings) -> ProjectSpec:
    return ProjectSpec(
        root="/p",
        requires_python=">=3.11,<3.14",
        conda=(conda_req("python", "python 3.12.11.*", 4), conda_req("esmpy", line=5),
               conda_req("xesmf", line=6), conda_req("poetry", line=7)),
        pypi=(pypi_req("numpy", ">=1.25,<2.0.0"), pypi_req("torch", ">=2.6"),
              pypi_req("xesmf", group="custom", git=XESMF_GIT, line=40),
              pypi_req("pytest", group="dev"), pypi_req("pyarrow", group="extra:arrow")),
        optional_groups=("dev",),
        pins=(Pin("torch", "2.6.0", "poetry.lock"), Pin("xr", "0.1", "poetry.lock", "abc")),
        settings=Settings(**settings),
    )


def test_tools_are_dropped_with_a_note_saying_why():
    r = rules.select(founding_like(), TOOLS)
    assert "poetry" not in {c.name for c in r.conda}
    note = next(n for n in r.notes if n.subject == "poetry")
    assert "environment.yml:7" in note.message and "not a runtime dependency" in note.message


def test_groups_non_optional_plus_settings():
    names = lambda s: {r.name for r in rules.select(s, TOOLS).pypi}  # noqa: E731
    assert names(founding_like()) == {"numpy", "torch"}
    assert names(founding_like(groups=("dev",), extras=("arrow",))) == {
        "numpy", "torch", "pytest", "pyarrow"}


def test_asked_from_both_sources_conda_owns_by_default():
    r = rules.select(founding_like(), TOOLS)
    assert "xesmf" in {c.name for c in r.conda} and "xesmf" not in {p.name for p in r.pypi}
    (name, owner, why), = r.owners
    assert (name, owner) == ("xesmf", "conda")
    assert "environment.yml:6" in why and "pyproject.toml:40" in why
    assert '[sources] xesmf = "pypi"' in why
    assert any(n.subject == "xesmf" and "git+https://github.com" in n.message for n in r.notes)


def test_sources_override_gives_it_to_pypi():
    r = rules.select(founding_like(sources=(("xesmf", "pypi"),)), TOOLS)
    assert "xesmf" not in {c.name for c in r.conda}
    assert "xesmf" in {p.name for p in r.pypi}
    assert r.owners[0][1] == "pypi" and r.pypi_only == ("xesmf",)


def test_pypi_constraints_and_pins_bind_the_conda_solve():
    r = rules.select(founding_like(constraints=("pyarrow<26",)), TOOLS)
    assert "numpy <2.0.0,>=1.25" in r.conda_constraints
    assert "torch ==2.6.0" in r.conda_constraints  # the poetry.lock pin
    assert "pyarrow <26" in r.conda_constraints
    assert set(r.pypi_constraints) == {"pyarrow<26", "torch==2.6.0"}  # git pins stay out
    both = founding_like()
    both = ProjectSpec(**{**{f: getattr(both, f) for f in both.__slots__},
                          "pypi": both.pypi + (pypi_req("esmpy", ">=8.6"),)})
    r = rules.select(both, TOOLS)
    assert "esmpy" not in {p.name for p in r.pypi}  # conda owns it, and
    assert "esmpy >=8.6" in r.conda_constraints  # the PyPI constraint still binds conda
    off = rules.select(founding_like(honour_project_lock=False), TOOLS)
    assert off.pypi_constraints == ()


@pytest.mark.parametrize(("spec", "conda"), [
    (">=1.25,<2.0.0", "numpy <2.0.0,>=1.25"), ("==1.26.*", "numpy 1.26.*"),
    ("~=1.4", "numpy ~=1.4"), ("", "numpy"), ("!=1.2.*", None),
])
def test_pep440_to_conda(spec, conda):
    assert rules.pep440_to_conda("numpy", spec) == conda


def test_conda_names_learned_from_dist_info_are_used():
    got = rules.conda_constraints([pypi_req("torch", ">=2.6")], names={"torch": "pytorch"})
    assert got == ("pytorch >=2.6",)


def test_merge_one_owner_each_with_reasons():
    spec = founding_like()
    r = rules.select(spec, TOOLS)
    conda = (cpkg("python", "3.12.11"), cpkg("libesmf", "8.6.1"),
             cpkg("esmpy", "8.6.1", ("libesmf", "numpy", "python"), ("esmpy",)),
             cpkg("numpy", "1.26.4", ("python",), ("numpy",)),
             cpkg("xesmf", "0.8.10", ("esmpy", "numpy"), ("xesmf",)))
    assert rules.pypi_pins_from_conda(conda) == ("esmpy==8.6.1", "numpy==1.26.4",
                                                 "xesmf==0.8.10")
    pypi = (ppkg("numpy", "1.26.4"), ppkg("torch", "2.6.0", ("numpy", "nvidia-cudnn-cu12")),
            ppkg("nvidia-cudnn-cu12", "9.1.0.70"))
    pkgs, notes = rules.merge(spec, r, conda, pypi)
    by = {(p.owner, p.name): p for p in pkgs}
    assert ("pypi", "numpy") not in by
    assert by[("conda", "numpy")].reason.startswith("dependency of esmpy, xesmf")
    assert "provides numpy to the PyPI side" in by[("conda", "numpy")].reason
    assert by[("conda", "esmpy")].reason == "requested in environment.yml:5 (dependencies)"
    assert by[("conda", "libesmf")].reason == "dependency of esmpy"
    assert by[("pypi", "torch")].reason == "requested in pyproject.toml:20"
    assert by[("pypi", "torch")].groups == ("main",)
    assert by[("pypi", "nvidia-cudnn-cu12")].reason == "dependency of torch"
    assert "conda owns it" in by[("conda", "xesmf")].reason
    numpy_note = next(n for n in notes if n.subject == "numpy")
    assert "conda package numpy 1.26.4" in numpy_note.message and "torch" in numpy_note.message


def test_pypi_owner_refused_when_a_conda_package_needs_it():
    spec = founding_like(sources=(("esmpy", "pypi"),))
    spec = ProjectSpec(**{**{f: getattr(spec, f) for f in spec.__slots__},
                          "pypi": spec.pypi + (pypi_req("esmpy"),)})
    r = rules.select(spec, TOOLS)
    assert "esmpy" not in {c.name for c in r.conda}
    conda = (cpkg("esmpy", "8.6.1", ("python",), ("esmpy",)),
             cpkg("xesmf", "0.8.10", ("esmpy",), ("xesmf",)))
    with pytest.raises(LockError) as info:
        rules.merge(spec, r, conda, ())
    assert "esmpy is to come from PyPI" in info.value.message and "xesmf" in info.value.message
    assert info.value.where == "dockyard.toml ([sources])"


def test_python_from_requires_python():
    assert rules.python_from_requires(">=3.11.0,<3.14.0") == "3.11"
    assert rules.python_from_requires(">3.12") == "3.12"
    assert rules.python_from_requires(None) is None


def test_inputs_hash_follows_file_bytes_and_settings():
    spec = ProjectSpec(root="/p", inputs=(InputFile("pyproject.toml", "a" * 64),))
    same = ProjectSpec(root="/elsewhere", inputs=(InputFile("pyproject.toml", "a" * 64),))
    edited = ProjectSpec(root="/p", inputs=(InputFile("pyproject.toml", "b" * 64),))
    other = ProjectSpec(root="/p", inputs=spec.inputs, settings=Settings(cuda="12.6"))
    assert inputs_hash(spec) == inputs_hash(same)
    assert len({inputs_hash(spec), inputs_hash(edited), inputs_hash(other)}) == 3


def test_lock_project_wires_the_two_resolvers():
    """The pipeline with fakes at the two seams: what each resolver is asked."""
    asked = {}

    def solve(request):
        asked["conda"] = request
        return (cpkg("python", "3.12.11"), cpkg("numpy", "1.26.4", ("python",)))

    def read(pkgs, on_line=None):
        return tuple(p if p.name != "numpy" else
                     LockedPackage(**{**{f: getattr(p, f) for f in p.__slots__},
                                      "provides": ("numpy",)}) for p in pkgs), ()

    def compile_(request, on_line=None):
        asked["pypi"] = request
        return (ppkg("numpy", "1.26.4"), ppkg("torch", "2.6.0", ("numpy",)))

    lock = lock_project(founding_like(cuda="12.6"), solve_conda=solve, read_conda=read,
                        compile_pypi=compile_, tools=TOOLS)
    assert asked["conda"].specs == ("python 3.12.11.*", "esmpy", "xesmf")
    assert asked["conda"].cuda == "12.6" and "numpy <2.0.0,>=1.25" in asked["conda"].constraints
    assert asked["pypi"].target.python == "3.12.11"
    assert "numpy==1.26.4" in asked["pypi"].constraints
    assert [(p.owner, p.name) for p in lock.packages] == [
        ("conda", "numpy"), ("conda", "python"), ("pypi", "torch")]
    assert lock.target.cuda == "12.6" and "__cuda=12.6" in lock.target.virtual_packages


def test_no_python_to_lock_for_is_a_clear_error():
    spec = ProjectSpec(root="/p", pypi=(pypi_req("rich"),))
    with pytest.raises(LockError) as info:
        lock_project(spec, tools=TOOLS, compile_pypi=lambda *a, **k: pytest.fail("no uv"))
    assert info.value.where == "dockyard.toml (target.python)"
    assert "requires-python" in info.value.hint


def test_conda_solved_again_when_a_distribution_has_another_conda_name():
    """pytorch provides torch: the project's `torch>=2.6` must bind conda's pytorch."""
    spec = ProjectSpec(root="/p", conda=(conda_req("pytorch"),),
                       pypi=(pypi_req("torch", ">=2.6"),), channels=("file:///ch",))
    asked = []

    def solve(request):
        asked.append(request.constraints)
        return (cpkg("python", "3.12.11"), cpkg("pytorch", "2.7.1", ("python",)))

    def read(pkgs, on_line=None):
        return tuple(LockedPackage(**{**{f: getattr(p, f) for f in p.__slots__},
                                      "provides": ("torch",) if p.name == "pytorch" else ()})
                     for p in pkgs), ()

    lock = lock_project(spec, solve_conda=solve, read_conda=read, tools=TOOLS,
                        compile_pypi=lambda request, on_line=None: (ppkg("torch", "2.7.1"),))
    assert len(asked) == 2 and "pytorch >=2.6" in asked[1] and "pytorch >=2.6" not in asked[0]
    assert [(p.owner, p.name) for p in lock.packages] == [("conda", "python"), ("conda", "pytorch")]

"""Lock-time review on locks recorded from real uv output and real wheel metadata."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.cuda.needs import needs_from_lock
from dockyard.cuda.review import check_lock, cuda_target, review_lock
from dockyard.errors import CudaMismatchError
from dockyard.lock.model import LockedPackage, dumps, loads
from dockyard.sources import read_project
from dockyard.spec import Index

from .conftest import lock_from_uv

FOUNDING = Path("/work/shared/cases/dctools-seed/pyproject.toml")
HERE = Path(__file__).parent
FOUNDING_COPY = HERE / "data" / "dctools-pyproject.toml"  # the same file, kept with the tests


@pytest.fixture
def project(tmp_path):
    """The founding case's pyproject.toml (as its developers keep it) plus a dockyard.toml."""

    def make(toml: str = '[target]\ncuda = "12.6"\n'):
        src = FOUNDING if FOUNDING.exists() else FOUNDING_COPY
        shutil.copy(src, tmp_path / "pyproject.toml")
        (tmp_path / "dockyard.toml").write_text(toml)
        return read_project(str(tmp_path))

    return make


def test_founding_pins_need_cuda_12_4(metadata):
    needs = {n.package: n for n in needs_from_lock(lock_from_uv("old"), metadata)}
    assert needs["torch"].cuda == "12.4"
    assert "nvidia-cuda-runtime-cu12==12.4.127" in needs["torch"].evidence
    assert needs["torchvision"].cuda == "12.4"
    assert needs["nvidia-cuda-runtime-cu12"].cuda == "12.4"
    assert not needs["nvidia-cudnn-cu12"].exact  # a -cu12 library: only the major is known


def test_mismatch_report_names_torchvision_and_its_line(project, metadata):
    review = review_lock(lock_from_uv("old"), project(), metadata=metadata)
    assert review.target == "12.6" and not review.ok
    (finding,) = review.findings  # one finding for the torch family, nvidia-* explained by it
    assert finding.package == "torch" and finding.cuda == "12.4"
    chain = "\n".join(finding.chain)
    assert "pyproject.toml:42" in chain and "torchvision" in chain and "<0.22.0" in chain
    assert "torchvision 0.21.0 requires torch==2.6.0" in chain
    assert "torch 2.6.0's wheel requires nvidia-cuda-runtime-cu12==12.4.127 -> CUDA 12.4" in chain
    # the order is the story: the project's line, then the wheel edge, then the runtime
    assert chain.index("pyproject.toml:42") < chain.index("requires torch==2.6.0") \
        < chain.index("nvidia-cuda-runtime-cu12")
    route, relax, narrow = finding.fixes
    assert route.file == "dockyard.toml"
    assert 'url = "https://download.pytorch.org/whl/cu126"' in route.text
    assert "explicit = true" in route.text
    assert 'torch = "pytorch-cu126"' in route.text and 'torchvision = "pytorch-cu126"' in route.text
    assert relax.file == "pyproject.toml:42"
    assert "torchvision>=0.22,<0.23" in relax.text and "can only narrow" in relax.summary
    assert narrow.file == "dockyard.toml" and '"torch>=2.7,<2.8"' in narrow.text
    text = review.report()
    assert "target CUDA 12.6" in text and "fix 1:" in text


def test_allowing_torchvision_0_22_gives_12_6_and_no_report(project, metadata):
    lock = lock_from_uv("022")
    assert lock.get("torch").version == "2.7.1"
    review = review_lock(lock, project(), metadata=metadata)
    assert review.ok and review.findings == ()
    assert {n.cuda for n in review.needs if n.exact} == {"12.6"}


def test_check_lock_raises_by_default_and_accepts_knowingly(project, metadata):
    spec = project()
    with pytest.raises(CudaMismatchError) as err:
        check_lock(lock_from_uv("old"), spec, metadata=metadata)
    assert "torchvision" in str(err.value) and "accept-mismatch" in err.value.hint
    lock, review = check_lock(lock_from_uv("old"), spec, metadata=metadata, accept=True)
    assert lock.target.cuda == "12.6"
    assert any("accepted" in n.message and n.subject == "torch" for n in lock.notes)
    assert loads(dumps(lock)) == lock.normalized()
    spec = project('[target]\ncuda = "12.6"\n[cuda]\naccept-mismatch = true\n')
    check_lock(lock_from_uv("old"), spec, metadata=metadata)  # settings accept it too


def test_cupy_cuda11x_on_12_is_an_error_with_its_fix(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\ndependencies = [\n  "cupy-cuda11x",\n]\n')
    (tmp_path / "dockyard.toml").write_text('[target]\ncuda = "12.6"\n')
    review = review_lock(lock_from_uv("cupy"), read_project(str(tmp_path)))
    (finding,) = review.errors
    assert finding.package == "cupy-cuda11x" and "use cupy-cuda12x" in finding.problem
    assert finding.fixes[0].file == "pyproject.toml:5"
    assert finding.fixes[0].text == "cupy-cuda11x  ->  cupy-cuda12x"
    assert any("pyproject.toml:5" in step for step in finding.chain)


def test_without_metadata_the_table_and_lock_edges_still_tell(project):
    review = review_lock(lock_from_uv("old"), project())
    (finding,) = review.findings
    assert finding.cuda == "12.4"
    chain = "\n".join(finding.chain)
    assert "depends on nvidia-cuda-runtime-cu12 12.4.127" in chain
    assert "torchvision 0.21.0 is built for torch 2.6.x (dockyard's table)" in chain
    assert "pyproject.toml:42" in chain
    assert finding.fixes[1].text.endswith("torchvision>=0.22,<0.23")


def test_routed_cu126_build_agrees(project, metadata):
    lock = lock_from_uv("old")
    pkgs = tuple(
        replace(p, version=p.version + "+cu126", source="https://download.pytorch.org/whl/cu126")
        if p.name in ("torch", "torchvision") else p
        for p in lock.packages if not p.name.startswith("nvidia-")
    )
    review = review_lock(replace(lock, packages=pkgs), project(), metadata=metadata)
    assert review.ok, review.report()


def test_torchvision_left_on_pypi_beside_a_cu126_torch_is_reported(project, metadata):
    lock = lock_from_uv("old")
    pkgs = tuple(replace(p, version="2.6.0+cu126") if p.name == "torch" else p
                 for p in lock.packages if not p.name.startswith("nvidia-"))
    review = review_lock(replace(lock, packages=pkgs), project(), metadata=metadata)
    (finding,) = review.errors
    assert "torchvision 0.21.0 from PyPI" in "\n".join(finding.chain)
    assert 'torchvision = "pytorch-cu126"' in finding.fixes[0].text


def test_unbounded_torch_picks_13_x_and_the_fix_narrows_in_dockyard_toml(project):
    spec = project()
    lock = lock_from_uv("022")
    pkgs = tuple(replace(p, version="2.15.0") if p.name == "torch" else
                 replace(p, version="0.29.2") if p.name == "torchvision" else p
                 for p in lock.packages if not p.name.startswith("nvidia-"))
    review = review_lock(replace(lock, packages=pkgs), replace(spec, pypi=()))
    (finding,) = review.errors
    assert finding.cuda == "13.2" and "another major" in finding.problem
    assert any("nothing caps torch" in s for s in finding.chain)
    assert '"torch>=2.7,<2.8"' in finding.fixes[-1].text


def test_conda_side(project):
    spec = project()
    lock = replace(lock_from_uv("cupy"), packages=(
        LockedPackage("cudatoolkit", "11.8.0", "conda", "conda-forge", "environment.yml:6"),
        LockedPackage("pytorch", "2.5.1", "conda", "conda-forge", "environment.yml:7",
                      build="cuda124_generic_py312_h0123456_0"),
        LockedPackage("cuda-version", "12.6", "conda", "conda-forge", "dependency of x"),
    ))
    review = review_lock(lock, spec)
    by = {f.package: f for f in review.errors}
    assert set(by) == {"cudatoolkit", "pytorch"}
    assert "cuda-version=12.6" in by["cudatoolkit"].fixes[0].text
    assert "pytorch=*=cuda126*" in by["pytorch"].fixes[0].text


def test_target_from_base_and_disagreement():
    assert cuda_target(None, "12.6.3") == ("12.6", "the base image", ())
    target, origin, notes = cuda_target("12.6", "12.4.1")
    assert target == "12.6" and "base image has CUDA 12.4" in notes[0]
    assert cuda_target(None, None)[0] is None


def test_existing_index_is_reused_in_the_route(project, metadata):
    spec = project()
    spec = replace(spec, settings=replace(spec.settings, indexes=(
        Index("pytorch-cu126", "https://download.pytorch.org/whl/cu126", explicit=True),)))
    review = review_lock(lock_from_uv("old"), spec, metadata=metadata)
    assert "[[index]]" not in review.findings[0].fixes[0].text


def test_a_poetry_lock_pin_is_named_and_can_be_released(project, metadata):
    from dockyard.spec import Pin

    spec = project()
    spec = replace(spec, pypi=tuple(r for r in spec.pypi if r.name != "torchvision"),
                   pins=(Pin("torch", "2.6.0", "poetry.lock"),))
    lock = replace(lock_from_uv("old"), packages=tuple(
        p for p in lock_from_uv("old").packages if p.name != "torchvision"))
    (finding,) = review_lock(lock, spec, metadata=metadata).errors
    assert any(s.startswith("poetry.lock pins torch==2.6.0") for s in finding.chain)
    assert any(f.text == '[install]\nunpin = ["torch"]' for f in finding.fixes)
    texts = [(f.file, f.text) for f in finding.fixes]
    assert len(texts) == len(set(texts))  # two fixes never say the same thing


def test_a_stray_runtime_wheel_gets_a_narrowing_fix(project):
    lock = lock_from_uv("cupy")
    lock = replace(lock, packages=lock.packages + (
        LockedPackage("nvidia-cuda-runtime-cu12", "12.9.79", "pypi", "https://pypi.org/simple",
                      "dependency of jax-cuda12-plugin"),
        LockedPackage("jax-cuda12-plugin", "0.12.0", "pypi", "https://pypi.org/simple",
                      "requested", depends=("nvidia-cuda-runtime-cu12",)),
    ))
    lock = replace(lock, packages=tuple(p for p in lock.packages if p.name != "cupy-cuda11x"))
    (finding,) = review_lock(lock, project()).errors
    assert finding.package == "nvidia-cuda-runtime-cu12" and finding.cuda == "12.9"
    assert "jax-cuda12-plugin 0.12.0 depends on nvidia-cuda-runtime-cu12" in finding.chain
    assert '"nvidia-cuda-runtime-cu12>=12.6,<12.7"' in finding.fixes[0].text


def test_the_pasted_lines_are_valid_dockyard_toml(tmp_path, metadata):
    """Each dockyard.toml fix, pasted as told, reads back as the settings it promises."""
    base = '[target]\ncuda = "12.6"\n[install]\nconstraints = ["pyarrow<26"]\n'
    (tmp_path / "pyproject.toml").write_text(FOUNDING_COPY.read_text())
    (tmp_path / "dockyard.toml").write_text(base)
    review = review_lock(lock_from_uv("old"), read_project(str(tmp_path)), metadata=metadata)
    route, _relax, narrow = review.errors[0].fixes
    assert "replace" in narrow.summary and "replace" not in route.summary
    (tmp_path / "dockyard.toml").write_text(base + "\n" + route.text + "\n")
    routed = read_project(str(tmp_path)).settings
    assert dict(routed.routes) == {"torch": "pytorch-cu126", "torchvision": "pytorch-cu126"}
    assert routed.indexes[0].explicit and routed.indexes[0].url.endswith("/whl/cu126")
    (tmp_path / "dockyard.toml").write_text('[target]\ncuda = "12.6"\n' + narrow.text + "\n")
    narrowed = read_project(str(tmp_path)).settings
    assert narrowed.constraints == ("pyarrow<26", "torch>=2.7,<2.8", "torchvision>=0.22,<0.23")


def test_base_cuda_from_the_probe():
    from dockyard.cuda.review import base_cuda_of
    from dockyard.probe.facts import CudaFacts

    assert base_cuda_of(CudaFacts("12.6.3", (), ())) == "12.6"
    lib = "/usr/local/cuda-12.6/targets/x86_64-linux/lib/libcudart.so.12.6.77"
    assert base_cuda_of(CudaFacts("", ("/usr/local/cuda",), (lib,))) == "12.6"
    assert base_cuda_of(CudaFacts("", (), ("/usr/lib/libcudart.so.12",))) is None

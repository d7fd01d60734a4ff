"""Lock-level: real uv against PyPI (dockyard.lock.resolve.lock_project), real wheel metadata.

No whole torch wheel is downloaded: uv reads metadata only for `pip compile`,
and the review reads PEP 658 files or the wheels' METADATA by range.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.cuda.metadata import pypi_metadata
from dockyard.cuda.review import check_lock, review_lock
from dockyard.errors import CudaMismatchError
from dockyard.lock.resolve import lock_project
from dockyard.sources import read_project

from .pyindex import build_wheel, serve, write_index

pytestmark = pytest.mark.network

TORCH_LINES = ('    "torch (>=2.6.0,<3.0.0)",\n', '    "torchvision (>=0.21.0,<0.22.0)",\n')
SETTINGS = '[target]\npython = "3.12"\ncuda = "12.6"\n'


def _project(root: Path, deps: tuple[str, ...] = TORCH_LINES, settings: str = SETTINGS):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "gpu-app"\nversion = "0.1"\nrequires-python = ">=3.11"\n'
        "dependencies = [\n" + "".join(deps) + "]\n")
    (root / "dockyard.toml").write_text(settings)
    return read_project(str(root))


@pytest.fixture(scope="module")
def founding(tmp_path_factory):
    spec = _project(tmp_path_factory.mktemp("founding"))
    return spec, lock_project(spec)


def test_founding_pins_lock_torch_2_6_with_cuda_12_4_and_say_why(founding):
    spec, lock = founding
    assert lock.get("torch").version == "2.6.0"
    assert lock.get("nvidia-cuda-runtime-cu12").version == "12.4.127"
    review = review_lock(lock, spec, metadata=pypi_metadata())
    (finding,) = review.errors
    assert finding.cuda == "12.4" and review.target == "12.6"
    chain = "\n".join(finding.chain)
    assert "pyproject.toml:7" in chain and "`torchvision>=0.21.0,<0.22.0`" in chain
    assert "torchvision 0.21.0 requires torch==2.6.0" in chain  # from torchvision's METADATA
    assert "torch 2.6.0's wheel requires nvidia-cuda-runtime-cu12==12.4.127" in chain
    with pytest.raises(CudaMismatchError):
        check_lock(lock, spec, metadata=pypi_metadata())


def test_the_suggested_project_change_gives_12_6_and_no_report(tmp_path, founding):
    spec, lock = founding
    relax = review_lock(lock, spec).errors[0].fixes[1]
    new = relax.text.split("->", 1)[1].strip()
    assert new == "torchvision>=0.22,<0.23"
    spec2 = _project(tmp_path / "relaxed", (TORCH_LINES[0], f'    "{new}",\n'))
    lock2 = lock_project(spec2)
    assert lock2.get("torch").version.startswith("2.7.")
    review = review_lock(lock2, spec2, metadata=pypi_metadata())
    assert review.ok and review.findings == (), review.report()
    assert lock2.get("nvidia-cuda-runtime-cu12").version.startswith("12.6.")


def test_unbounded_torch_is_fixed_by_the_suggested_dockyard_toml_lines(tmp_path):
    deps = (TORCH_LINES[0], '    "torchvision>=0.21",\n')
    spec = _project(tmp_path / "loose", deps)
    lock = lock_project(spec)
    review = review_lock(lock, spec, metadata=pypi_metadata())
    (finding,) = review.errors
    assert finding.cuda.startswith("13.")  # today's newest torch brings CUDA 13.x
    narrow = finding.fixes[-1]
    assert narrow.file == "dockyard.toml" and narrow.text.startswith("[install]")
    spec2 = _project(tmp_path / "narrowed", deps, SETTINGS + narrow.text + "\n")
    review2 = review_lock(lock_project(spec2), spec2, metadata=pypi_metadata())
    assert review2.ok, review2.report()


def test_cupy_cuda11x_is_an_error(tmp_path):
    spec = _project(tmp_path, ('    "cupy-cuda11x",\n',))
    lock = lock_project(spec)
    (finding,) = review_lock(lock, spec).errors
    assert finding.package == "cupy-cuda11x"
    assert finding.fixes[0].text == "cupy-cuda11x  ->  cupy-cuda12x"
    with pytest.raises(CudaMismatchError):
        check_lock(lock, spec)
    accepted, _ = check_lock(lock, spec, accept=True)
    assert any(n.subject == "cupy-cuda11x" for n in accepted.notes)


def test_routing_takes_torch_from_the_explicit_index_only(tmp_path):
    """The PyTorch index stand-in: a loopback PEP 503 index with tiny real +cu126 wheels."""
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    linux = 'platform_system == "Linux" and platform_machine == "x86_64"'
    wheels = [
        build_wheel(files, "torch", "2.6.0+cu126", "cp312-cp312-manylinux_2_28_x86_64",
                    {"torch/__init__.py": "", "torch/version.py":
                     "__version__ = '2.6.0+cu126'\ncuda = '12.6'\n"},
                    (f"nvidia-cuda-runtime-cu12==12.6.77; {linux}", "filelock")),
        build_wheel(files, "torchvision", "0.21.0+cu126", "cp312-cp312-manylinux_2_28_x86_64",
                    {"torchvision/__init__.py": "", "torchvision/version.py":
                     "__version__ = '0.21.0+cu126'\ncuda = '12.6'\n"},
                    ("numpy", "torch==2.6.0")),
        # a decoy: an explicit index must not serve what is not routed to it
        build_wheel(files, "numpy", "99.0.0", "py3-none-any", {"numpy/__init__.py": ""}),
    ]
    write_index(tmp_path / "index", wheels)
    with serve(tmp_path / "index") as base:
        settings = SETTINGS + (
            f'[[index]]\nname = "pytorch-cu126"\nurl = "{base}/simple"\nexplicit = true\n'
            '[routes]\ntorch = "pytorch-cu126"\ntorchvision = "pytorch-cu126"\n')
        spec = _project(tmp_path / "routed", settings=settings)
        lock = lock_project(spec)
        review = review_lock(lock, spec, metadata=pypi_metadata())
    torch, vision = lock.get("torch"), lock.get("torchvision")
    assert (torch.version, vision.version) == ("2.6.0+cu126", "0.21.0+cu126")
    assert torch.source.startswith(base) and vision.source.startswith(base)
    others = [p for p in lock.packages if p.name not in ("torch", "torchvision")]
    assert others and all(base not in p.source for p in others)
    assert all(base not in a.url for p in others for a in p.artifacts)
    assert lock.get("numpy").version != "99.0.0"
    assert lock.get("nvidia-cuda-runtime-cu12").version == "12.6.77"
    assert review.ok, review.report()
    assert {n.cuda for n in review.needs if n.exact} == {"12.6"}
    # and without the route, the same index stays unused (explicit)
    unrouted = replace(spec, settings=replace(spec.settings, routes=()))
    with serve(tmp_path / "index") as base2:
        unrouted = replace(unrouted, settings=replace(unrouted.settings, indexes=tuple(
            replace(i, url=f"{base2}/simple") for i in unrouted.settings.indexes)))
        plain = lock_project(unrouted)
    assert plain.get("torch").version == "2.6.0" and base2 not in plain.get("torch").source

"""Detection from an installed environment, on small real files (a real ELF NEEDED entry)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.cuda.installed import detect_installed, elf_needed, read_assignments

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def _meta(site: Path, dist: str, name: str, version: str) -> None:
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("env")
    site = root / "lib" / "python3.12" / "site-packages"
    (site / "torch" / "lib").mkdir(parents=True)
    stub = root / "stub"
    stub.mkdir()
    (stub / "cudart.c").write_text("int cudaRuntimeGetVersion(int *v) { *v = 12040; return 0; }\n")
    (stub / "user.c").write_text(
        "extern int cudaRuntimeGetVersion(int *);\n"
        "int probe(void) { int v = 0; cudaRuntimeGetVersion(&v); return v; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcudart.so.12", "-o",
                    str(stub / "libcudart.so.12"), str(stub / "cudart.c")], check=True)
    lib = site / "torch" / "lib" / "libtorch_cuda.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib),
                    str(stub / "user.c"), "-Wl,--no-as-needed", f"-L{stub}", "-l:libcudart.so.12"],
                   check=True)
    (site / "torch" / "version.py").write_text(
        "from typing import Optional\n\n__all__ = ['__version__', 'cuda']\n"
        "__version__ = '2.6.0+cu124'\ndebug = False\ncuda: Optional[str] = '12.4'\n"
        "git_version = '1eba9b3aa3c43f86f4a2c807ac8e12c4a7767340'\nhip: Optional[str] = None\n")
    _meta(site, "torch", "torch", "2.6.0")
    _meta(site, "nvidia_cuda_runtime_cu12", "nvidia-cuda-runtime-cu12", "12.4.127")
    _meta(site, "nvidia_cudnn_cu12", "nvidia-cudnn-cu12", "9.1.0.70")
    _meta(site, "cupy_cuda11x", "cupy-cuda11x", "13.6.0")
    _meta(site, "jax_cuda12_plugin", "jax-cuda12-plugin", "0.12.0")
    _meta(site, "numpy", "numpy", "2.5.5")
    (root / "conda-meta").mkdir()
    (root / "conda-meta" / "cuda-version-12.6-h7480c83_3.json").write_text(json.dumps(
        {"name": "cuda-version", "version": "12.6", "build": "h7480c83_3", "channel": "cf"}))
    (root / "conda-meta" / "python-3.12.11-h9e4cc4f_0_cpython.json").write_text(json.dumps(
        {"name": "python", "version": "3.12.11", "build": "h9e4cc4f_0_cpython"}))
    return root


def test_real_elf_needed_entry(prefix):
    lib = prefix / "lib/python3.12/site-packages/torch/lib/libtorch_cuda.so"
    assert "libcudart.so.12" in elf_needed(lib)
    assert elf_needed(prefix / "lib/python3.12/site-packages/torch/version.py") == ()


def test_detect_from_prefix(prefix):
    env = detect_installed(prefix)
    assert env.torch_cuda == "12.4"
    needs = {n.package: n for n in env.needs}
    assert needs["torch"].cuda == "12.4" and needs["torch"].version == "2.6.0+cu124"
    assert "torch/version.py" in needs["torch"].evidence
    assert needs["nvidia-cuda-runtime-cu12"].cuda == "12.4"
    assert needs["nvidia-cudnn-cu12"].cuda == "12"
    assert needs["cupy-cuda11x"].cuda == "11"
    assert needs["jax-cuda12-plugin"].cuda == "12"
    assert needs["cuda-version"].cuda == "12.6" and needs["cuda-version"].owner == "conda"
    assert "numpy" not in needs and "python" not in needs
    (elf,) = env.elf
    assert elf.library == "libcudart.so.12" and elf.major == "12"
    assert elf.path.endswith("torch/lib/libtorch_cuda.so")
    assert env.cuda_majors_linked == ("12",)


def test_detect_from_site_packages_folder(prefix):
    env = detect_installed(prefix / "lib/python3.12/site-packages")
    assert env.torch_cuda == "12.4" and len(env.elf) == 1


def test_read_assignments_never_executes():
    src = "import os\nos.system('false')\n__version__ = '2.7.1+cu126'\ncuda = '12.6'\n"
    assert read_assignments(src) == {"__version__": "2.7.1+cu126", "cuda": "12.6"}
    assert read_assignments("def (") == {}

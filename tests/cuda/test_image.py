"""Image side: NVIDIA_* ENV from the target, duplicated CUDA against a base toolkit."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from dockyard.cuda.conda import conda_constraints, conda_specs, override_env, virtual_cuda
from dockyard.cuda.image import duplicate_cuda, nvidia_env, required_cuda
from dockyard.lock.conda import Request, constraints_for, virtual_packages
from dockyard.lock.model import LockedPackage

from .conftest import lock_from_uv

BASE_126 = {
    "CUDA_VERSION": "12.6.3",
    "NVIDIA_REQUIRE_CUDA": "cuda>=12.6 brand=unknown,driver>=470,driver<471 "
                           "brand=tesla,driver>=535,driver<536",
    "NVIDIA_VISIBLE_DEVICES": "all",
    "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
}
CUDA_126_LIBS = [f"/usr/local/cuda-12.6/targets/x86_64-linux/lib/{n}" for n in (
    "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11",
    "libcusparse.so.12", "libcusolver.so.11", "libcurand.so.10", "libnvrtc.so.12",
    "libnvJitLink.so.12", "libcupti.so.12")]


def test_keep_the_base_when_it_matches():
    assert required_cuda(BASE_126["NVIDIA_REQUIRE_CUDA"]) == "12.6"
    assert nvidia_env("12.6", BASE_126) == {}


def test_set_from_target_when_the_base_disagrees_or_is_silent():
    base = {**BASE_126, "NVIDIA_REQUIRE_CUDA": "cuda>=12.4 brand=tesla,driver>=470,driver<471"}
    assert nvidia_env("12.6", base) == {"NVIDIA_REQUIRE_CUDA": "cuda>=12.6"}
    assert nvidia_env("12.6.2", {}) == {
        "NVIDIA_REQUIRE_CUDA": "cuda>=12.6", "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}
    assert nvidia_env(None, {}) == {}


def test_called_as_dockyard_build_does_with_a_lock_and_base_facts():
    lock = lock_from_uv("022")
    lock = replace(lock, target=replace(lock.target, cuda="12.6"))
    facts = SimpleNamespace(env=tuple({**BASE_126, "NVIDIA_REQUIRE_CUDA": "cuda>=12.4"}.items()))
    assert nvidia_env(lock, facts) == {"NVIDIA_REQUIRE_CUDA": "cuda>=12.6"}
    assert nvidia_env(lock_from_uv("022"), facts) == {}  # no target CUDA in the lock


def test_duplicates_of_the_cu126_wheels_on_a_12_6_base_allow_reuse():
    report = duplicate_cuda("12.6.3", CUDA_126_LIBS, lock_from_uv("022"))
    names = {d.package for d in report.duplicates}
    assert {"nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12", "nvidia-nvjitlink-cu12"} <= names
    assert "nvidia-cudnn-cu12" not in names  # the base has no cuDNN: nothing duplicated there
    assert report.env_cuda == "12.6" and report.reuse_allowed and report.needs_gpu_verification
    assert report.total_bytes > 1.5 * 1024 ** 3  # cublas+cusparse+cufft+cusolver+... (table)
    assert all(d.estimated for d in report.duplicates)
    assert "1." in report.summary() and "verify on a GPU" in report.summary()
    assert set(report.droppable) == names


def test_reuse_refused_when_the_base_is_older():
    report = duplicate_cuda("12.4.1", [p.replace("12.6", "12.4") for p in CUDA_126_LIBS],
                            lock_from_uv("022"))
    assert report.duplicates and not report.reuse_allowed and "older" in report.reason
    assert report.droppable == ()


def test_measured_sizes_win_and_conda_counts_too():
    lock = lock_from_uv("cupy")
    lock = replace(lock, packages=lock.packages + (
        LockedPackage("libcublas", "12.6.4.1", "conda", "conda-forge", "dep"),
        LockedPackage("cuda-cudart", "12.6.77", "conda", "conda-forge", "dep"),
    ))
    report = duplicate_cuda("12.6", CUDA_126_LIBS, lock, sizes={"libcublas": 123})
    by = {d.package: d for d in report.duplicates}
    assert by["libcublas"].bytes == 123 and not by["libcublas"].estimated
    assert by["cuda-cudart"].owner == "conda" and report.reuse_allowed


def test_from_the_probe_only_what_it_found_counts():
    from dockyard.cuda.image import duplicates_against_base
    from dockyard.probe.facts import CudaFacts

    base = SimpleNamespace(cuda=CudaFacts("12.6.3", ("/usr/local/cuda-12.6",),
                                          ("/usr/local/cuda-12.6/lib64/libcudart.so.12",)))
    report = duplicates_against_base(base, lock_from_uv("022"))
    assert [d.package for d in report.duplicates] == ["nvidia-cuda-runtime-cu12"]
    assert report.reuse_allowed


def test_nothing_duplicated_without_a_base_toolkit():
    report = duplicate_cuda(None, [], lock_from_uv("old"))
    assert report.duplicates == () and not report.reuse_allowed
    assert report.summary() == "no CUDA library is brought twice"


def test_conda_pins_agree_with_the_resolver():
    assert conda_specs("12.6") == ("cuda-version=12.6",)
    assert conda_constraints("12.6.3") == ("cuda-version 12.6.*",)
    assert override_env("12.6") == {"CONDA_OVERRIDE_CUDA": "12.6"}
    assert virtual_cuda(None) is None
    # H2's conda solve builds its virtual packages from settings.cuda: the same string
    assert virtual_cuda("12.6") in virtual_packages("linux-64", "2.28", "12.6")
    assert set(conda_constraints("12.6")) <= set(
        constraints_for(Request(specs=("pytorch",), channels=("conda-forge",), cuda="12.6")))


def test_the_toolkits_other_libraries_found_by_the_probe_count_too():
    from dockyard.cuda.image import duplicates_against_base
    from dockyard.probe.parse import parse_cuda

    probed = parse_cuda({"CUDA_VERSION": "12.6.3"}, [
        "env=12.6.3", "/usr/local/cuda", "/usr/local/cuda-12.6",
        "/usr/local/cuda-12.6/lib64/libcudart.so.12",
        "/usr/local/cuda-12.6/lib64/libcublas.so.12",
        "/usr/local/cuda-12.6/lib64/libcufft.so.11",
        "/usr/lib/x86_64-linux-gnu/libcudnn.so.9",
    ], [])
    assert probed.roots == ("/usr/local/cuda", "/usr/local/cuda-12.6")
    assert probed.cudart == ("/usr/local/cuda-12.6/lib64/libcudart.so.12",)
    assert len(probed.libraries) == 3
    report = duplicates_against_base(SimpleNamespace(cuda=probed), lock_from_uv("022"))
    names = {d.package for d in report.duplicates}
    assert {"nvidia-cublas-cu12", "nvidia-cufft-cu12", "nvidia-cudnn-cu12"} <= names
    assert report.total_bytes > 1024 ** 3  # cudnn + cublas + cufft: well over a GiB
    assert "GiB" in report.summary()

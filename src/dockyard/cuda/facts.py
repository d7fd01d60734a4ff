"""CUDA facts dockyard relies on: data, not code.

Checked against PyPI wheel metadata (PEP 658 files and the wheels' own
METADATA read by range, Nov 2026) and NVIDIA's release notes; see
/work/shared/reference/cuda.md. The lookup helpers at the bottom are the only
logic here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TorchRelease:
    """A torch minor release line as published on PyPI for linux x86_64."""

    torch: str  # "2.6": every 2.6.x
    cuda: str  # the CUDA its PyPI wheel brings
    runtime: str  # the pin in the wheel's Requires-Dist
    torchvision: str  # the matching torchvision release line ("0.21")
    pytorch_index: tuple[str, ...] = ()  # CUDA builds on download.pytorch.org/whl/cuXYZ


# torch -> CUDA of its PyPI wheel. Runtime pins read from the wheels' METADATA
# (2.4.1, 2.5.1, 2.6.0, 2.7.1, 2.8.0, 2.9.0, 2.10.0, 2.11.0, 2.12.0, 2.13.0,
# 2.14.0, 2.15.0). `pytorch_index` is from PyTorch's release matrix (the index
# is unreachable from dockyard's CI, so it is not re-checked there); empty
# means unknown.
TORCH_RELEASES: tuple[TorchRelease, ...] = (
    TorchRelease("2.4", "12.1", "nvidia-cuda-runtime-cu12==12.1.105", "0.19",
                 ("11.8", "12.1", "12.4")),
    TorchRelease("2.5", "12.4", "nvidia-cuda-runtime-cu12==12.4.127", "0.20",
                 ("11.8", "12.1", "12.4")),
    TorchRelease("2.6", "12.4", "nvidia-cuda-runtime-cu12==12.4.127", "0.21",
                 ("11.8", "12.4", "12.6")),
    TorchRelease("2.7", "12.6", "nvidia-cuda-runtime-cu12==12.6.77", "0.22",
                 ("11.8", "12.6", "12.8")),
    TorchRelease("2.8", "12.8", "nvidia-cuda-runtime-cu12==12.8.90", "0.23",
                 ("12.6", "12.8", "12.9")),
    TorchRelease("2.9", "12.8", "nvidia-cuda-runtime-cu12==12.8.90", "0.24",
                 ("12.6", "12.8", "13.0")),
    TorchRelease("2.10", "12.8", "nvidia-cuda-runtime-cu12==12.8.90", "0.25",
                 ("12.6", "12.8", "13.0")),
    TorchRelease("2.11", "13.0", "cuda-toolkit==13.0.2", "0.26"),
    TorchRelease("2.12", "13.0", "cuda-toolkit==13.0.2", "0.27"),
    TorchRelease("2.13", "13.0", "cuda-toolkit==13.0.3", "0.28"),
    TorchRelease("2.14", "13.0", "cuda-toolkit==13.0.3", "0.29"),
    TorchRelease("2.15", "13.2", "cuda-toolkit==13.2.2", "0.29"),  # torchvision 0.29.2
)

# torchaudio follows torch's version number from 2.0 on; torchvision is in the table.
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")

# Minimum Linux driver per CUDA toolkit (NVIDIA's CUDA release notes, table 3).
DRIVER_MINIMUM: dict[str, str] = {
    "11.0": "450.36.06", "11.1": "455.23", "11.2": "460.27.03", "11.3": "465.19.01",
    "11.4": "470.42.01", "11.5": "495.29.05", "11.6": "510.39.01", "11.7": "515.43.04",
    "11.8": "520.61.05",
    "12.0": "525.60.13", "12.1": "530.30.02", "12.2": "535.54.03", "12.3": "545.23.06",
    "12.4": "550.54.14", "12.5": "555.42.02", "12.6": "560.28.03", "12.8": "570.26",
    "12.9": "575.51.03", "13.0": "580.65.06", "13.1": "590.44.01",
}

# Minor-version compatibility: any X.y runtime runs on a driver at least this
# (some features, e.g. PTX JIT of newer PTX, are limited below the toolkit's own minimum).
MINOR_COMPAT_FLOOR: dict[int, str] = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}

# conda-forge
CONDA_LEGACY_TOOLKIT_MAX = "11.8"  # `cudatoolkit` stops here; 12+ is split, pinned by cuda-version

# NVIDIA container runtime environment (nvidia-container-toolkit).
NVIDIA_DRIVER_CAPABILITIES_DEFAULT = "compute,utility"

# Installed MiB of the cu126 wheel set (torch 2.7.1's dependencies), by PyPI name.
# Used to estimate duplicated bytes when the lock carries no sizes.
CU12_INSTALLED_MIB: dict[str, int] = {
    "nvidia-cudnn-cu12": 835, "nvidia-cublas-cu12": 573, "nvidia-cufft-cu12": 268,
    "nvidia-cusparse-cu12": 280, "nvidia-cusolver-cu12": 232, "nvidia-cusparselt-cu12": 226,
    "nvidia-nccl-cu12": 261, "nvidia-curand-cu12": 94, "nvidia-cuda-nvrtc-cu12": 61,
    "nvidia-cuda-cupti-cu12": 33, "nvidia-nvjitlink-cu12": 48,
    "nvidia-cuda-runtime-cu12": 3, "nvidia-nvtx-cu12": 1, "nvidia-cufile-cu12": 5,
}

# Which library of a base's CUDA toolkit each wheel duplicates (soname stem).
WHEEL_LIBRARY: dict[str, str] = {
    "cudnn": "libcudnn", "cublas": "libcublas", "cufft": "libcufft", "cusparse": "libcusparse",
    "cusolver": "libcusolver", "cusparselt": "libcusparseLt", "nccl": "libnccl",
    "curand": "libcurand", "cuda-nvrtc": "libnvrtc", "cuda-cupti": "libcupti",
    "nvjitlink": "libnvJitLink", "cuda-runtime": "libcudart", "nvtx": "libnvToolsExt",
    "cufile": "libcufile",
}

# PyPI distributions whose name says the CUDA major (or major.minor) they are built for.
CUPY_NAME = re.compile(r"^cupy-cuda(?P<major>\d\d)(?P<minor>\d|x)$")  # cupy-cuda12x, cupy-cuda111
JAX_NAME = re.compile(r"^jax-cuda(?P<major>\d\d)-(?:plugin|pjrt)$")  # jax-cuda12-plugin
NVIDIA_SUFFIX = re.compile(r"^nvidia-[a-z0-9-]+-cu(?P<major>\d\d)$")  # nvidia-cudnn-cu12
# Distributions whose own version is the CUDA version they bring.
CUDA_VERSIONED = ("nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime",
                  "cuda-toolkit")
# conda build strings: pytorch `cuda126_generic_py312_...`, jaxlib `cuda12py312...`
CONDA_BUILD_CUDA = re.compile(r"(?:^|_)cuda_?(?P<major>1\d)(?P<minor>\d)?(?=_|py|h|$)")
TORCH_LOCAL = re.compile(r"\+cu(?P<major>1\d)(?P<minor>\d)$")  # 2.6.0+cu126


def torch_release(version: str) -> TorchRelease | None:
    line = ".".join(version.split("+", 1)[0].split(".")[:2])
    for row in TORCH_RELEASES:
        if row.torch == line:
            return row
    return None


def torch_release_of(name: str, version: str) -> TorchRelease | None:
    """The torch release line a torch/torchvision/torchaudio version belongs to."""
    if name in ("torch", "torchaudio"):
        return torch_release(version)
    base = version.split("+", 1)[0]
    line = major_minor(base)
    rows = [r for r in TORCH_RELEASES if r.torchvision == line]
    if len(rows) > 1:  # torchvision 0.29.0-0.29.1 go with torch 2.14, 0.29.2 with 2.15
        return rows[-1] if vtuple(base) >= (0, 29, 2) else rows[0]
    return rows[0] if rows else None


def torch_for_cuda(cuda: str) -> tuple[TorchRelease, ...]:
    """torch release lines whose PyPI wheel brings exactly this CUDA (newest first)."""
    return tuple(r for r in reversed(TORCH_RELEASES) if r.cuda == cuda)


def torch_on_index(cuda: str) -> tuple[TorchRelease, ...]:
    """torch release lines with a `+cuXYZ` build for this CUDA on the PyTorch index."""
    return tuple(r for r in reversed(TORCH_RELEASES) if cuda in r.pytorch_index)


def pytorch_index(cuda: str) -> tuple[str, str]:
    """(name, url) of the PyTorch index for a CUDA: ("pytorch-cu126", ".../whl/cu126")."""
    tag = "cu" + cuda.replace(".", "")
    return f"pytorch-{tag}", f"https://download.pytorch.org/whl/{tag}"


def major_minor(version: str) -> str:
    """'12.4.127' -> '12.4'; '12' stays '12'."""
    return ".".join(version.split("+", 1)[0].split(".")[:2])


def vtuple(version: str) -> tuple[int, ...]:
    out = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        out.append(int(digits.group()) if digits else 0)
    return tuple(out)


def max_cuda_for_driver(driver: str) -> str | None:
    """Highest toolkit in the table whose minimum driver is <= `driver`."""
    best = None
    for cuda, minimum in DRIVER_MINIMUM.items():
        if vtuple(driver) >= vtuple(minimum) and (best is None or vtuple(cuda) > vtuple(best)):
            best = cuda
    return best

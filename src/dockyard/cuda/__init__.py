"""CUDA: every CUDA piece of the image agrees with the platform's CUDA.

    facts        the tables (torch -> CUDA, driver minimums, naming), data only
    needs        which CUDA each GPU package of a Lock needs (pure)
    metadata     wheel METADATA of the few GPU packages (PEP 658 or range reads), injectable
    review       lock time: review_lock / check_lock -> CudaReview, CudaMismatchError
    conda        cuda-version pins and the __cuda virtual package for a target
    image        nvidia_env (NVIDIA_REQUIRE_CUDA...) and duplicate_cuda (bytes brought twice)
    installed    what an installed environment needs (version.py, dist-info, ELF NEEDED, conda-meta)
    driver       the driver's CUDA without nvidia-smi (libcuda, NVML, /proc, /sys)
    compat       NVIDIA's compatibility rules: driver vs needs
    doctor       `dockyard doctor`'s diagnosis
"""

from __future__ import annotations

from .conda import conda_constraints, conda_specs, override_env, virtual_cuda
from .image import DuplicateReport, duplicate_cuda, duplicates_against_base, nvidia_env
from .metadata import pypi_metadata, recorded_metadata
from .needs import Need, needs_from_lock
from .review import (
    CudaReview,
    Finding,
    Fix,
    base_cuda_of,
    check_lock,
    cuda_target,
    review_lock,
)

__all__ = [
    "CudaReview", "DuplicateReport", "Finding", "Fix", "Need", "base_cuda_of", "check_lock",
    "conda_constraints", "conda_specs", "cuda_target", "duplicate_cuda", "duplicates_against_base",
    "needs_from_lock", "nvidia_env", "override_env", "pypi_metadata", "recorded_metadata",
    "review_lock", "virtual_cuda",
]

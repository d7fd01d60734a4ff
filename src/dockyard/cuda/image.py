"""The image side of CUDA (pure): the NVIDIA runtime's ENV, and CUDA brought twice.

`nvidia_env(target, base_env)` says which NVIDIA_* variables the image must
set so that the NVIDIA container runtime asks the node for the target CUDA
(keeping the base's values when they already agree).

`duplicate_cuda(base_cuda, base_libs, lock)` estimates the bytes that the
environment's nvidia-* wheels or conda CUDA packages duplicate against a base
that already has a CUDA toolkit, and whether a plan that reuses the base's
libraries instead is allowed: only within the same CUDA major with a base at
least as new, only for libraries the base really has, and always flagged as
needing a run on a GPU (`dockyard doctor` in the built image) before it ships.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..lock.model import Lock, LockedPackage
from . import facts

_REQUIRE = re.compile(r"\bcuda>=(?P<v>\d+\.\d+)")


def required_cuda(require: str) -> str | None:
    """'cuda>=12.6 brand=tesla,driver>=470,driver<471' -> '12.6'."""
    m = _REQUIRE.search(require or "")
    return m["v"] if m else None


def nvidia_env(target_cuda: str | Lock | None, base_env: Mapping[str, str] | object
               ) -> dict[str, str]:
    """NVIDIA_* variables the image must set (empty when the base's already agree).

    `target_cuda`: "12.6", or a Lock (its target.cuda); `base_env`: the base's ENV as a
    mapping, or the probe's BaseFacts (its `env` pairs), as `dockyard build` passes them.
    """
    if isinstance(target_cuda, Lock):
        target_cuda = target_cuda.target.cuda or None
    if not isinstance(base_env, Mapping):
        base_env = dict(getattr(base_env, "env", ()) or ())
    if not target_cuda:
        return {}
    target = facts.major_minor(target_cuda)
    out: dict[str, str] = {}
    base_require = base_env.get("NVIDIA_REQUIRE_CUDA", "")
    if required_cuda(base_require) != target:
        out["NVIDIA_REQUIRE_CUDA"] = f"cuda>={target}"
    if not base_env.get("NVIDIA_VISIBLE_DEVICES"):
        out["NVIDIA_VISIBLE_DEVICES"] = "all"
    if not base_env.get("NVIDIA_DRIVER_CAPABILITIES"):
        out["NVIDIA_DRIVER_CAPABILITIES"] = facts.NVIDIA_DRIVER_CAPABILITIES_DEFAULT
    return out


# conda-forge's split CUDA packages -> the library stem they install
CONDA_LIBRARY: dict[str, str] = {
    "cuda-cudart": "libcudart", "libcublas": "libcublas", "libcufft": "libcufft",
    "libcusparse": "libcusparse", "libcusolver": "libcusolver", "libcurand": "libcurand",
    "cuda-nvrtc": "libnvrtc", "libnvjitlink": "libnvJitLink", "cuda-cupti": "libcupti",
    "cudnn": "libcudnn", "nccl": "libnccl", "libcufile": "libcufile", "cuda-nvtx": "libnvToolsExt",
    "cudatoolkit": "libcudart",
}
# conda name -> the wheel with the same library, for the size estimate
_CONDA_AS_WHEEL = {
    "cuda-cudart": "nvidia-cuda-runtime-cu12", "libcublas": "nvidia-cublas-cu12",
    "libcufft": "nvidia-cufft-cu12", "libcusparse": "nvidia-cusparse-cu12",
    "libcusolver": "nvidia-cusolver-cu12", "libcurand": "nvidia-curand-cu12",
    "cuda-nvrtc": "nvidia-cuda-nvrtc-cu12", "libnvjitlink": "nvidia-nvjitlink-cu12",
    "cuda-cupti": "nvidia-cuda-cupti-cu12", "cudnn": "nvidia-cudnn-cu12",
    "nccl": "nvidia-nccl-cu12", "libcufile": "nvidia-cufile-cu12", "cuda-nvtx": "nvidia-nvtx-cu12",
}
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Duplicate:
    package: str
    owner: str  # "pypi" | "conda"
    version: str
    library: str  # the library stem the base already has: "libcublas"
    bytes: int
    estimated: bool  # True: from dockyard's table of cu126 installed sizes


@dataclass(frozen=True, slots=True)
class DuplicateReport:
    base_cuda: str | None
    env_cuda: str | None  # the CUDA the environment's libraries are
    duplicates: tuple[Duplicate, ...] = ()
    reuse_allowed: bool = False
    reason: str = ""  # why reuse is or is not allowed
    needs_gpu_verification: bool = True  # a reuse plan must pass `dockyard doctor` on a GPU

    @property
    def total_bytes(self) -> int:
        return sum(d.bytes for d in self.duplicates)

    @property
    def droppable(self) -> tuple[str, ...]:
        """What a reuse plan would not install (only meaningful when `reuse_allowed`)."""
        return tuple(d.package for d in self.duplicates) if self.reuse_allowed else ()

    def summary(self) -> str:
        if not self.duplicates:
            return "no CUDA library is brought twice"
        est = " (estimated)" if any(d.estimated for d in self.duplicates) else ""
        unknown = [d.package for d in self.duplicates if not d.bytes]
        size = _human(self.total_bytes) + est
        if unknown:
            size += f", plus {', '.join(unknown)} of unknown size"
        text = (f"{len(self.duplicates)} CUDA libraries duplicate the base's CUDA "
                f"{self.base_cuda}: {size}")
        if self.reuse_allowed:
            text += "; a plan reusing the base's libraries is possible (verify on a GPU)"
        return text + f" [{self.reason}]"


def _human(n: int) -> str:
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MiB"


def _stem(lib: str) -> str:
    name = lib.rsplit("/", 1)[-1]
    return name.split(".so", 1)[0]


def _wheel_library(name: str) -> str | None:
    m = re.match(r"^nvidia-(?P<what>[a-z0-9-]+?)(?:-cu\d\d)?$", name)
    if not m:
        return None
    return facts.WHEEL_LIBRARY.get(m["what"])


def duplicate_cuda(base_cuda: str | None, base_libs: Iterable[str], lock: Lock, *,
                   sizes: Mapping[str, int] | None = None) -> DuplicateReport:
    """CUDA libraries the lock installs that the base already has, and if reuse is allowed.

    `base_libs`: library file names or paths found in the base (`libcublas.so.12`, ...);
    `sizes`: installed bytes per package name when known (else dockyard's cu126 table).
    """
    have = {_stem(lib) for lib in base_libs}
    sizes = sizes or {}
    dups: list[Duplicate] = []
    env_versions: set[str] = set()
    for pkg in lock.packages:
        lib = _library_of(pkg)
        if lib is None:
            continue
        if pkg.name in facts.CUDA_VERSIONED or pkg.name in ("cuda-cudart", "cudatoolkit"):
            env_versions.add(facts.major_minor(pkg.version))
        if lib not in have:
            continue
        size, estimated = _size(pkg, sizes)
        dups.append(Duplicate(pkg.name, pkg.owner, pkg.version, lib, size, estimated))
    env_cuda = sorted(env_versions)[-1] if env_versions else None
    allowed, reason = _reuse(base_cuda, env_cuda, dups)
    return DuplicateReport(facts.major_minor(base_cuda) if base_cuda else None, env_cuda,
                           tuple(sorted(dups, key=lambda d: -d.bytes)), allowed, reason)


def duplicates_against_base(base: object, lock: Lock, *,
                            sizes: Mapping[str, int] | None = None) -> DuplicateReport:
    """`duplicate_cuda` from the probe's BaseFacts: its CUDA version and the libraries found.

    The probe lists libcudart (and `libraries`, when it learns to list the toolkit's other
    libraries); what it does not list is not counted as duplicated: no guessing.
    """
    cuda = getattr(base, "cuda", None)
    version = getattr(cuda, "version", "") or None
    libs = (*getattr(cuda, "cudart", ()), *getattr(cuda, "libraries", ()))
    return duplicate_cuda(version, libs, lock, sizes=sizes)


def _library_of(pkg: LockedPackage) -> str | None:
    if pkg.owner == "pypi":
        return _wheel_library(pkg.name)
    return CONDA_LIBRARY.get(pkg.name)


def _size(pkg: LockedPackage, sizes: Mapping[str, int]) -> tuple[int, bool]:
    if pkg.name in sizes:
        return sizes[pkg.name], False
    key = pkg.name if pkg.owner == "pypi" else _CONDA_AS_WHEEL.get(pkg.name, "")
    key = re.sub(r"-cu1[13]$", "-cu12", key)
    if key not in facts.CU12_INSTALLED_MIB and not key.endswith("-cu12"):
        key += "-cu12"
    return facts.CU12_INSTALLED_MIB.get(key, 0) * _MIB, True


def _reuse(base: str | None, env: str | None, dups: list[Duplicate]) -> tuple[bool, str]:
    if not dups:
        return False, "nothing duplicated"
    if not base:
        return False, "the base's CUDA version is unknown"
    if not env:
        return False, "the environment's CUDA version is unknown"
    b, e = facts.vtuple(facts.major_minor(base)), facts.vtuple(env)
    if b[0] != e[0]:
        return False, f"the base's CUDA {base} and the environment's {env} differ in major version"
    if b < e:
        return False, (f"the base's CUDA {facts.major_minor(base)} is older than the "
                       f"environment's {env}: its libraries lack symbols the wheels need "
                       "(e.g. __nvJitLinkComplete_12_x)")
    return True, (f"same major, base {facts.major_minor(base)} >= environment {env}; "
                  "allowed only after a GPU check of the built image")


__all__ = ["Duplicate", "DuplicateReport", "duplicate_cuda", "duplicates_against_base",
           "nvidia_env", "required_cuda"]

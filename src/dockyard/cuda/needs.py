"""Which CUDA each GPU package of a lock needs (pure).

A `Need` says: this package, at this version, brings or requires CUDA X.Y
(or only the major X, for `cupy-cuda12x`), and how we know. Sources, most
trusted first: the version's local label (`2.6.0+cu126`), the wheel's own
Requires-Dist (from injected metadata), the runtime wheel it depends on in the
lock, dockyard's table (`facts.TORCH_RELEASES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..lock.model import Lock, LockedPackage, Target
from . import facts
from .metadata import MetadataFetcher, applies_to, parse_metadata


@dataclass(frozen=True, slots=True)
class Need:
    package: str
    version: str
    owner: str  # "pypi" | "conda"
    cuda: str  # "12.4", or "12" when only the major is known
    evidence: str  # one line: how we know
    root: bool = True  # False: a runtime library (nvidia-*) that a root package pulls in
    carrier: str = ""  # what brings the runtime: "nvidia-cuda-runtime-cu12==12.4.127"

    @property
    def exact(self) -> bool:
        return "." in self.cuda


def needs_from_lock(lock: Lock, metadata: MetadataFetcher | None = None) -> tuple[Need, ...]:
    """Every CUDA need of the lock, sorted by package name."""
    out: list[Need] = []
    for pkg in lock.packages:
        need = (_pypi_need(pkg, lock, metadata, lock.target) if pkg.owner == "pypi"
                else conda_need(pkg))
        if need is not None:
            out.append(need)
    return tuple(sorted(out, key=lambda n: (n.package, n.owner)))


def pypi_need(name: str, version: str) -> Need | None:
    """The need a PyPI distribution states by its name or version alone (no metadata)."""
    pkg = LockedPackage(name=name, version=version, owner="pypi", source="", reason="")
    return _pypi_need(pkg, None, None, Target())


def _pypi_need(pkg: LockedPackage, lock: Lock | None, metadata: MetadataFetcher | None,
               target: Target) -> Need | None:
    name, version = pkg.name, pkg.version
    if name in facts.CUDA_VERSIONED:
        return Need(name, version, "pypi", facts.major_minor(version),
                    f"{name} {version} is the CUDA {facts.major_minor(version)} runtime",
                    root=False)
    m = facts.CUPY_NAME.match(name)
    if m:
        cuda = m["major"] if m["minor"] == "x" else f"{m['major']}.{m['minor']}"
        return Need(name, version, "pypi", cuda, f"{name} is built for CUDA {cuda}"
                    + (".x" if m["minor"] == "x" else ""))
    m = facts.JAX_NAME.match(name)
    if m:
        return Need(name, version, "pypi", m["major"], f"{name} is built for CUDA {m['major']}.x")
    m = facts.NVIDIA_SUFFIX.match(name)
    if m:
        return Need(name, version, "pypi", m["major"],
                    f"{name} is a CUDA {m['major']} library", root=False)
    if name in facts.TORCH_FAMILY:
        return _torch_family_need(pkg, lock, metadata, target)
    return None


def _torch_family_need(pkg: LockedPackage, lock: Lock | None, metadata: MetadataFetcher | None,
                       target: Target) -> Need | None:
    name, version = pkg.name, pkg.version
    local = version.split("+", 1)[1] if "+" in version else ""
    m = facts.TORCH_LOCAL.search(version)
    if m:
        cuda = f"{m['major']}.{m['minor']}"
        return Need(name, version, "pypi", cuda, f"{name} {version} is a CUDA {cuda} build")
    if local:  # +cpu, +rocm6.2: no CUDA
        return None
    if name != "torch":
        torch = lock.get("torch") if lock is not None else None
        if torch is not None and torch.owner == "pypi" and "+" not in torch.version:
            inner = _torch_family_need(torch, lock, metadata, target)
            if inner is not None:
                return Need(name, version, "pypi", inner.cuda,
                            f"{name} {version} goes with torch {torch.version}: {inner.evidence}",
                            carrier=inner.carrier)
            return None
        # torch comes from elsewhere (a +cuXYZ build): this unlabelled wheel is PyPI's own build
        row = facts.torch_release_of(name, version)
        if row is None:
            return None
        return Need(name, version, "pypi", row.cuda,
                    f"{name} {version} from PyPI is built against torch {row.torch} and bundles "
                    f"CUDA {row.cuda} (dockyard's table)", carrier=row.runtime)
    text = metadata(pkg) if metadata is not None else None
    if text:
        for req in parse_metadata(text).requires:
            if req.name not in facts.CUDA_VERSIONED or not applies_to(req, target):
                continue
            pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
            if pins:
                cuda = facts.major_minor(pins[0])
                carrier = f"{req.name}=={pins[0]}"
                return Need(name, version, "pypi", cuda,
                            f"torch {version}'s wheel requires {carrier} -> CUDA {cuda}",
                            carrier=carrier)
        return None  # metadata without a CUDA runtime: a CPU build
    if lock is not None:
        for dep in _runtime_deps(pkg, lock):
            cuda = facts.major_minor(dep.version)
            return Need(name, version, "pypi", cuda,
                        f"torch {version} depends on {dep.name} {dep.version} -> CUDA {cuda}",
                        carrier=f"{dep.name}=={dep.version}")
    row = facts.torch_release(version)
    if row is None:
        return None
    return Need(name, version, "pypi", row.cuda,
                f"torch {row.torch}.x PyPI wheels require {row.runtime} -> CUDA {row.cuda} "
                "(dockyard's table)", carrier=row.runtime)


def _runtime_deps(pkg: LockedPackage, lock: Lock) -> Iterable[LockedPackage]:
    for dep_name in pkg.depends:
        dep = lock.get(dep_name.split(" ", 1)[0].split("=", 1)[0])
        if dep is not None and dep.name in facts.CUDA_VERSIONED:
            yield dep


def conda_need(pkg: LockedPackage) -> Need | None:
    name, version = pkg.name, pkg.version
    if name == "cuda-version":
        cuda = facts.major_minor(version)
        return Need(name, version, "conda", cuda, f"conda cuda-version {version} pins CUDA {cuda}")
    if name == "cudatoolkit":
        cuda = facts.major_minor(version)
        return Need(name, version, "conda", cuda,
                    f"conda cudatoolkit {version} is the CUDA {cuda} toolkit")
    if name in ("cuda-cudart", "cuda-runtime", "cuda-nvrtc", "cuda-toolkit"):
        cuda = facts.major_minor(version)
        return Need(name, version, "conda", cuda, f"conda {name} {version} is CUDA {cuda}",
                    root=False)
    m = facts.CONDA_BUILD_CUDA.search(pkg.build or "")
    if m:
        cuda = m["major"] + (f".{m['minor']}" if m["minor"] else "")
        return Need(name, version, "conda", cuda,
                    f"conda {name} {version} build {pkg.build} is a CUDA {cuda} build")
    return None


__all__ = ["Need", "conda_need", "needs_from_lock", "pypi_need"]

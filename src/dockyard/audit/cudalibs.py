"""CUDA libraries and the CUDA a torch build targets (pure), with versions and owners."""

from __future__ import annotations

import json
import posixpath
import re

from .model import CudaLib, Distribution

_CUDA_LIB = re.compile(
    r"^lib(?P<lib>cudart|cublasLt|cublas|cudnn(?:_[a-z_]+)?|cufftw|cufft|curand|cusolverMg|cusolver"
    r"|cusparseLt|cusparse|nccl|nvrtc(?:-builtins)?|nvJitLink|nvToolsExt|cupti|nvblas|npp[a-z]*)"
    r"\.so(?:\.(?P<ver>\d[\d.]*))?$")
_TOOLKIT = re.compile(r"^/usr/local/cuda(?:-(?P<ver>\d+\.\d+))?/")
_TORCH_CUDA = re.compile(r"""^cuda\s*(?::[^=]*)?=\s*['"](?P<ver>[\d.]+)['"]""", re.M)


def toolkit_versions(contents) -> dict[str, str]:
    """/usr/local/cuda-X.Y -> the toolkit's version, from its version.json or version.txt."""
    out = {}
    for path, data in contents.items():
        m = re.match(r"^(/usr/local/cuda[^/]*)/version\.(json|txt)$", path)
        if not m:
            continue
        text = data.decode("utf-8", "replace")
        if m[2] == "json":
            try:
                version = str((json.loads(text).get("cuda") or {}).get("version", ""))
            except (ValueError, AttributeError):
                version = ""
        else:
            found = re.search(r"CUDA Version ([\d.]+)", text)
            version = found[1] if found else ""
        if version:
            out[m[1]] = version
    return out


# Packages whose own version is the version of the CUDA library they ship (nvidia-cublas-cu12
# 12.6.4.1 ships libcublas 12.6.4.1); any other owner (triton, torch) says nothing about it.
_CUDA_PACKAGE = re.compile(r"^(nvidia-|cuda-|libcu|libnv|libnpp|cudnn|libcudnn|nccl|libnccl"
                           r"|cudatoolkit)")


def _real(version: str) -> str:
    """A library version worth showing: CUPTI's year-numbered sonames (2025.1.0) are not
    CUDA versions, and say nothing a reader can compare."""
    major = version.split(".")[0]
    return "" if major.isdigit() and int(major) >= 1000 else version


def cuda_libraries(files, owners: dict[str, Distribution], dpkg,
                   toolkits: dict[str, str]) -> tuple[CudaLib, ...]:
    libs = []
    for path, (size, layer, sha) in files.items():
        m = _CUDA_LIB.match(posixpath.basename(path))
        if not m:
            continue
        version = _real(m["ver"] or "")
        owner = owners.get(path)
        toolkit = _TOOLKIT.match(path)
        if owner is not None:
            kind = ("conda" if owner.installer == "conda" else "apt"
                    if owner.installer.startswith("apt:") else "wheel")
            who = f"{kind}:{owner.name}"
            if version.count(".") < 1 and owner.version[:1].isdigit() and \
                    _CUDA_PACKAGE.match(owner.name) and \
                    (not version or owner.version.split(".")[0] == version):
                version = owner.version
        elif toolkit:
            who = "toolkit"
            root = path.split("/")[:4]
            if version.count(".") < 1:
                version = toolkits.get("/".join(root)) or toolkit["ver"] or version
        elif path in dpkg:
            who = f"apt:{dpkg[path][0]}"
        else:
            who = "system"
        libs.append(CudaLib(path=path, lib=m["lib"], version=version, owner=who, size=size,
                            sha256=sha, layer=layer))
    return tuple(sorted(libs, key=lambda c: c.path))


def torch_cuda(contents) -> tuple[tuple[str, str], ...]:
    out = []
    for path, data in contents.items():
        if path.endswith("/torch/version.py"):
            m = _TORCH_CUDA.search(data.decode("utf-8", "replace"))
            if m:
                out.append((path, m["ver"]))
    return tuple(sorted(out))

"""What CUDA an installed environment needs, read from its files (an edge: reads a prefix).

Sources, all cheap and none importing the packages:
- `torch/version.py` (`cuda = '12.4'`, `__version__ = '2.6.0+cu124'`), read with `ast`;
- `*.dist-info/METADATA` names and versions (nvidia-*, cupy-cudaNNx, jax-cudaNN-*);
- ELF `DT_NEEDED` entries such as `libcudart.so.12` of the shared libraries under
  site-packages (pyelftools; only the dynamic section is read);
- `conda-meta/*.json` records (cuda-version, cudatoolkit, cuda-cudart, pytorch builds).
"""

from __future__ import annotations

import ast
import email.parser
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..lock.model import LockedPackage
from .needs import Need, conda_need, pypi_need

log = logging.getLogger(__name__)

_CUDA_SONAME = re.compile(r"^lib(cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse|"
                          r"nvrtc|nvJitLink|nccl|cupti)\.so\.(\d+)")


@dataclass(frozen=True, slots=True)
class ElfNeed:
    path: str  # relative to the prefix
    library: str  # "libcudart.so.12"

    @property
    def major(self) -> str:
        m = _CUDA_SONAME.match(self.library)
        return m[2] if m and m[1] in ("cudart", "nvrtc", "cublas", "cublasLt") else ""


@dataclass(frozen=True, slots=True)
class InstalledEnv:
    prefix: str
    site_packages: tuple[str, ...]
    needs: tuple[Need, ...] = ()
    elf: tuple[ElfNeed, ...] = ()
    torch_cuda: str | None = None  # torch/version.py's cuda ('12.4'), None if no torch or CPU

    @property
    def cuda_majors_linked(self) -> tuple[str, ...]:
        return tuple(sorted({e.major for e in self.elf if e.major}))


def site_packages_of(path: str | os.PathLike[str]) -> tuple[Path, ...]:
    """A prefix (lib/pythonX.Y/site-packages below it) or a site-packages folder itself."""
    root = Path(path)
    if any(root.glob("*.dist-info")) or root.name in ("site-packages", "dist-packages"):
        return (root,)
    found = sorted(root.glob("lib/python3*/site-packages")) + sorted(
        root.glob("lib64/python3*/site-packages")) + sorted(
        root.glob("local/lib/python3*/dist-packages"))
    return tuple(dict.fromkeys(p.resolve() for p in found))


def detect_installed(prefix: str | os.PathLike[str], *, scan_elf: bool = True) -> InstalledEnv:
    root = Path(prefix)
    sites = site_packages_of(root)
    needs: list[Need] = []
    torch_cuda = None
    elf: list[ElfNeed] = []
    for site in sites:
        versions: dict[str, str] = {}
        for pkg in ("torch", "torchvision", "torchaudio"):
            version_py = site / pkg / "version.py"
            if not version_py.is_file():
                continue
            values = read_assignments(version_py.read_text(errors="replace"))
            versions[pkg] = values.get("__version__", "")
            cuda = values.get("cuda") or None
            if pkg == "torch":
                torch_cuda = cuda
            if cuda:
                needs.append(Need(pkg, versions[pkg], "pypi", cuda,
                                  f"{_rel(version_py, root)} says cuda = {cuda!r}"))
        for name, version in _dists(site):
            if name in ("torch", "torchvision", "torchaudio"):
                continue  # version.py is the witness: it knows the CUDA of the build
            need = pypi_need(name, version)
            if need is not None:
                needs.append(need)
        if scan_elf:
            elf.extend(_elf_needs(site, root))
    needs.extend(_conda_needs(root))
    return InstalledEnv(str(root), tuple(str(s) for s in sites),
                        tuple(sorted(needs, key=lambda n: (n.package, n.owner))),
                        tuple(sorted(set(elf), key=lambda e: (e.path, e.library))), torch_cuda)


def read_assignments(source: str) -> dict[str, str]:
    """Top-level `name = 'str'` / `name: T = 'str'` assignments of a module, never executed."""
    out: dict[str, str] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant) \
                and isinstance(value.value, str):
            out[target.id] = value.value
    return out


def _dists(site: Path) -> Iterator[tuple[str, str]]:
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        try:
            msg = email.parser.Parser().parsestr(meta.read_text(errors="replace"),
                                                 headersonly=True)
        except OSError:
            continue
        name = re.sub(r"[-_.]+", "-", msg.get("Name", "")).lower()
        if name:
            yield name, msg.get("Version", "")


def elf_needed(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The DT_NEEDED entries of an ELF file (empty if it is not one)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return ()
            fh.seek(0)
            elf = ELFFile(fh)
            out: list[str] = []
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    out.extend(t.needed for t in section.iter_tags()  # type: ignore[attr-defined]
                               if t.entry.d_tag == "DT_NEEDED")
            return tuple(out)
    except (OSError, ELFError, ValueError) as exc:
        log.debug("not reading %s: %s", path, exc)
        return ()


def _elf_needs(site: Path, root: Path) -> Iterator[ElfNeed]:
    for dirpath, _dirs, files in os.walk(site):
        for name in files:
            if ".so" not in name:
                continue
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            for lib in elf_needed(path):
                if _CUDA_SONAME.match(lib):
                    yield ElfNeed(_rel(path, root), lib)


def _conda_needs(root: Path) -> list[Need]:
    out = []
    for record in sorted((root / "conda-meta").glob("*.json")):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        pkg = LockedPackage(name=data.get("name", ""), version=data.get("version", ""),
                            owner="conda", source=data.get("channel", ""), reason="installed",
                            build=data.get("build", ""))
        need = conda_need(pkg)
        if need is not None:
            out.append(need)
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


__all__ = ["ElfNeed", "InstalledEnv", "detect_installed", "elf_needed", "read_assignments",
           "site_packages_of"]

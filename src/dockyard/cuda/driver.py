"""The NVIDIA driver's version and CUDA, read without nvidia-smi (an edge).

Readers, tried in order, each a `Callable[[], DriverInfo | None]` so tests
inject their own:
- `libcuda`: `cuDriverGetVersion` from libcuda.so.1 via ctypes (1000*major + 10*minor);
- `nvml`: `nvmlSystemGetCudaDriverVersion_v2` and `nvmlSystemGetDriverVersion`;
- `proc`: /proc/driver/nvidia/version ("... Kernel Module  560.35.03 ...");
- `sys`: /sys/module/nvidia/version ("560.35.03").
The file readers give the driver version only; its CUDA comes from NVIDIA's table.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import facts


@dataclass(frozen=True, slots=True)
class DriverInfo:
    source: str  # "libcuda", "nvml", "/proc/driver/nvidia/version", ...
    cuda: str | None = None  # the highest CUDA the driver supports, "12.6"
    version: str | None = None  # the driver's version, "560.35.03"


@dataclass(frozen=True, slots=True)
class Driver:
    cuda: str | None  # from the driver itself, else from its version by NVIDIA's table
    version: str | None
    sources: tuple[str, ...]  # which readers answered
    tried: tuple[tuple[str, str], ...] = field(default=())  # (reader, why it gave nothing)
    cuda_from_table: bool = False

    @property
    def found(self) -> bool:
        return bool(self.cuda or self.version)


Reader = Callable[[], "DriverInfo | None"]


def cuda_from_int(value: int) -> str:
    """12060 -> '12.6' (cuDriverGetVersion / NVML encoding)."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def read_libcuda(names: Sequence[str] = ("libcuda.so.1", "libcuda.so")) -> DriverInfo | None:
    lib = _load(names)
    if lib is None:
        return None
    version = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(version)) != 0 or version.value <= 0:
        return None
    return DriverInfo("libcuda (cuDriverGetVersion)", cuda_from_int(version.value))


def read_nvml(names: Sequence[str] = ("libnvidia-ml.so.1", "libnvidia-ml.so")) -> DriverInfo | None:
    lib = _load(names)
    if lib is None or lib.nvmlInit_v2() != 0:
        return None
    try:
        cuda = ctypes.c_int(0)
        got_cuda = lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda)) == 0
        buf = ctypes.create_string_buffer(96)
        got_version = lib.nvmlSystemGetDriverVersion(buf, ctypes.c_uint(96)) == 0
        return DriverInfo("nvml (nvmlSystemGetCudaDriverVersion_v2)",
                          cuda_from_int(cuda.value) if got_cuda and cuda.value > 0 else None,
                          buf.value.decode() if got_version and buf.value else None)
    finally:
        lib.nvmlShutdown()


def _load(names: Sequence[str]):
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


_DRIVER_VERSION = re.compile(r"\b(\d{3,4}\.\d{1,3}(?:\.\d{1,3})?)\b")


def parse_proc_version(text: str) -> str | None:
    """'NVRM version: NVIDIA UNIX x86_64 Kernel Module  560.35.03  ...' -> '560.35.03'."""
    for line in text.splitlines():
        if line.startswith("NVRM"):
            m = _DRIVER_VERSION.search(line.split("Module", 1)[-1])
            if m:
                return m[1]
    return None


def file_reader(path: str, parse: Callable[[str], str | None]) -> Reader:
    def read() -> DriverInfo | None:
        try:
            text = Path(path).read_text()
        except OSError:
            return None
        version = parse(text)
        return DriverInfo(path, None, version) if version else None

    return read


def _strip(text: str) -> str | None:
    m = _DRIVER_VERSION.fullmatch(text.strip())
    return m[1] if m else None


DEFAULT_READERS: tuple[tuple[str, Reader], ...] = (
    ("libcuda", read_libcuda),
    ("nvml", read_nvml),
    ("/proc/driver/nvidia/version", file_reader("/proc/driver/nvidia/version", parse_proc_version)),
    ("/sys/module/nvidia/version", file_reader("/sys/module/nvidia/version", _strip)),
)


def detect_driver(readers: Sequence[tuple[str, Reader]] = DEFAULT_READERS) -> Driver:
    """Ask every reader; the driver's own CUDA wins, the version fills in from any."""
    cuda = version = None
    sources: list[str] = []
    tried: list[tuple[str, str]] = []
    for name, reader in readers:
        try:
            info = reader()
        except (OSError, AttributeError, ValueError) as exc:  # a broken library, a missing symbol
            tried.append((name, f"failed: {exc}"))
            continue
        if info is None:
            tried.append((name, "not found"))
            continue
        sources.append(info.source)
        cuda = cuda or info.cuda
        version = version or info.version
    from_table = False
    if cuda is None and version is not None:
        cuda = facts.max_cuda_for_driver(version)
        from_table = cuda is not None
    return Driver(cuda, version, tuple(sources), tuple(tried), from_table)


__all__ = ["DEFAULT_READERS", "Driver", "DriverInfo", "cuda_from_int", "detect_driver",
           "file_reader", "parse_proc_version", "read_libcuda", "read_nvml"]

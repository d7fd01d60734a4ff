"""Driver detection: injected readers, stub libcuda/NVML loaded through ctypes, real files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.cuda.compat import check_need
from dockyard.cuda.driver import (
    DEFAULT_READERS,
    DriverInfo,
    detect_driver,
    file_reader,
    parse_proc_version,
    read_libcuda,
    read_nvml,
)
from dockyard.cuda.needs import Need

PROC = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  "
        "(dvs-builder@U16-I3-B03-4-3)  Fri Aug 16 21:42:42 UTC 2024\n"
        "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n")


def test_no_driver_on_this_machine():
    if Path("/proc/driver/nvidia/version").exists():
        pytest.skip("this machine has an NVIDIA driver")
    d = detect_driver(DEFAULT_READERS)
    assert not d.found and d.cuda is None
    assert [name for name, _ in d.tried] == [name for name, _ in DEFAULT_READERS]


def test_proc_file_gives_version_then_table_gives_cuda(tmp_path):
    assert parse_proc_version(PROC) == "560.35.03"
    assert parse_proc_version(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024"
    ) == "550.54.14"
    path = tmp_path / "version"
    path.write_text(PROC)
    d = detect_driver([("proc", file_reader(str(path), parse_proc_version)),
                       ("missing", file_reader(str(tmp_path / "nope"), parse_proc_version))])
    assert d.version == "560.35.03" and d.cuda == "12.6" and d.cuda_from_table
    assert d.tried == (("missing", "not found"),)


def test_driver_cuda_wins_over_the_table():
    d = detect_driver([("libcuda", lambda: DriverInfo("libcuda", "12.8")),
                       ("sys", lambda: DriverInfo("/sys/module/nvidia/version", None,
                                                  "570.86.15"))])
    assert (d.cuda, d.version, d.cuda_from_table) == ("12.8", "570.86.15", False)


def test_a_broken_reader_is_reported_not_raised():
    def broken():
        raise OSError("libcuda.so.1: cannot open shared object file")

    d = detect_driver([("libcuda", broken)])
    assert not d.found and "cannot open" in d.tried[0][1]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_stub_libcuda_and_nvml_through_ctypes(tmp_path):
    """Real ctypes calls into small real libraries exporting the driver API's symbols."""
    (tmp_path / "cuda.c").write_text("int cuDriverGetVersion(int *v) { *v = 12060; return 0; }\n")
    (tmp_path / "nvml.c").write_text(
        "#include <string.h>\n"
        "int nvmlInit_v2(void) { return 0; }\nint nvmlShutdown(void) { return 0; }\n"
        "int nvmlSystemGetCudaDriverVersion_v2(int *v) { *v = 12080; return 0; }\n"
        "int nvmlSystemGetDriverVersion(char *b, unsigned n) { strncpy(b, \"570.86.15\", n);"
        " return 0; }\n")
    for name in ("cuda", "nvml"):
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / f"lib{name}.so"),
                        str(tmp_path / f"{name}.c")], check=True)
    assert read_libcuda((str(tmp_path / "libcuda.so"),)).cuda == "12.6"
    info = read_nvml((str(tmp_path / "libnvml.so"),))
    assert (info.cuda, info.version) == ("12.8", "570.86.15")
    assert read_libcuda((str(tmp_path / "absent.so"),)) is None


@pytest.mark.parametrize(("need", "driver_cuda", "driver_version", "status"), [
    ("12.4", "12.6", "560.35.03", "ok"),
    ("12.6", "12.6", None, "ok"),
    ("12.8", "12.6", "560.35.03", "limited"),  # minor-version compatibility
    ("13.0", "12.8", "570.86.15", "incompatible"),  # 13.x needs >= 580
    ("11.8", "12.6", None, "ok"),
    ("12", "12.2", None, "ok"),
    ("12.6", "12.2", "520.61.05", "incompatible"),  # below the 12.x floor
    ("12.6", None, None, "unknown"),
])
def test_compatibility_rules(need, driver_cuda, driver_version, status):
    from dockyard.cuda.driver import Driver

    driver = Driver(driver_cuda, driver_version, ("test",))
    v = check_need(Need("torch", "x", "pypi", need, "test"), driver)
    assert v.status == status, v.reason


@pytest.mark.skipif(not Path("/proc/driver/nvidia/version").exists(), reason="no NVIDIA driver")
def test_real_driver_when_present():
    """On a GPU machine: libcuda or NVML answers, and the /proc file agrees on the driver."""
    d = detect_driver(DEFAULT_READERS)
    assert d.found and d.cuda and d.version, d.tried
    assert not d.cuda_from_table

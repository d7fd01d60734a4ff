"""`cluster check --python`: a cluster of plain processes on this host (no container), as
on the founding case's hosts: the client is an interpreter of an environment, the
scheduler and workers run `dask scheduler` / `dask worker` from environments made by uv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard.testing.cli import run_cli
from dockyard.testing.dask import free_port

pytestmark = [pytest.mark.network]

PINS = ("distributed==2026.8.0", "dask==2026.8.0", "toolz==1.2.0")


def _venv(path: Path, *pins: str) -> Path:
    uv = shutil.which("uv")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(path)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(path / "bin" / "python"),
                    *pins], check=True)
    return path / "bin"


@pytest.fixture(scope="module")
def envs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hosts")
    good = _venv(root / "good", *PINS)
    other = _venv(root / "other", *PINS[:2], "toolz==1.0.0")
    return good, other


def _start(procs: list, args: list[str], log: Path) -> None:
    procs.append(subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT))


def _wait_for(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise TimeoutError(log.read_text(errors="replace")[-2000:])


def test_host_processes(envs, tmp_path):
    good, other = envs
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    try:
        _start(procs, [str(good / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                       str(port), "--dashboard-address", "127.0.0.1:0"], tmp_path / "s.log")
        _wait_for(tmp_path / "s.log", "Scheduler at:")
        _start(procs, [str(good / "dask"), "worker", address, "--nthreads", "1"],
               tmp_path / "w1.log")
        _wait_for(tmp_path / "w1.log", "Registered to:")
        code, out = run_cli("cluster", "check", address, "--python", str(good / "python"),
                            width=250)
        assert code == 0, out
        assert "no lock to compare with" in out and "no difference" in out

        _start(procs, [str(other / "dask"), "worker", address, "--nthreads", "1"],
               tmp_path / "w2.log")
        _wait_for(tmp_path / "w2.log", "Registered to:")
        code, out = run_cli("cluster", "check", address, "--python", str(good / "python"),
                            width=250)
        assert code == 1
        (row,) = [line for line in out.splitlines() if "toolz" in line]
        assert "worker" in row and "1.0.0" in row and "1.2.0" in row
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def test_unreachable_scheduler_and_no_client(envs):
    good, _ = envs
    code, out = run_cli("cluster", "check", f"tcp://127.0.0.1:{free_port()}", "--python",
                        str(good / "python"), "--timeout", "2")
    assert code == 2 and "cannot connect to the scheduler" in out and "Traceback" not in out
    code, out = run_cli("cluster", "check", "tcp://127.0.0.1:1", "--python", sys.executable)
    assert code == 2 and "has no distributed" in out
    code, out = run_cli("cluster", "check", "tcp://127.0.0.1:1", "--python", "/nonexistent/py")
    assert code == 2 and "no interpreter" in out

"""dockyard doctor: diagnosis with injected readers and runner; the CLI on this GPU-less machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.cli import main
from dockyard.cuda.doctor import CANNOT_TELL, INCOMPATIBLE, OK, SMOKE, diagnose
from dockyard.cuda.driver import DriverInfo
from dockyard.runner import FakeRunner
from dockyard.testing.cli import recording_ui

NO_GPU = not Path("/proc/driver/nvidia/version").exists()


def _env(root: Path, torch_cuda: str = "12.6", torch_version: str = "2.7.1+cu126") -> Path:
    site = root / "lib" / "python3.12" / "site-packages"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "version.py").write_text(
        f"__version__ = '{torch_version}'\ncuda = '{torch_cuda}'\n")
    return root


def _driver(cuda: str, version: str):
    return [("libcuda", lambda: DriverInfo("libcuda", cuda)),
            ("sys", lambda: DriverInfo("/sys/module/nvidia/version", None, version))]


def _smoke(total: float = 2.0, error: str | None = None) -> FakeRunner:
    r = {"version": "2.7.1+cu126", "cuda": "12.6", "device": "NVIDIA H100 80GB HBM3"}
    r.update({"error": error} if error else {"sum": total})
    return FakeRunner().add(["/env/bin/python", "-c", SMOKE], "@@smoke " + json.dumps({"torch": r}))


def _ui():
    return recording_ui(140)


def test_ok_with_gpu_smoke(tmp_path):
    runner = _smoke()
    d = diagnose(str(_env(tmp_path)), python="/env/bin/python",
                 readers=_driver("12.8", "570.86.15"), runner=runner)
    assert d.exit_code == OK and d.verdicts[0].status == "ok"
    assert d.smoke[0].ok and "on NVIDIA H100" in d.smoke[0].detail
    assert runner.calls == [("/env/bin/python", "-c", SMOKE)]


def test_13_on_a_12_driver_is_incompatible(tmp_path):
    d = diagnose(str(_env(tmp_path, "13.0", "2.11.0+cu130")), python=None,
                 readers=_driver("12.6", "560.35.03"))
    assert d.exit_code == INCOMPATIBLE and "incompatible" in d.headline()
    assert "13.x driver (>= 580.65.06)" in d.verdicts[0].reason


def test_failed_gpu_operation_is_incompatible(tmp_path):
    d = diagnose(str(_env(tmp_path)), python="/env/bin/python",
                 readers=_driver("12.6", "560.35.03"),
                 runner=_smoke(error="RuntimeError: CUDA error: no kernel image is available"))
    assert d.exit_code == INCOMPATIBLE and "no kernel image" in d.smoke[0].detail


def test_no_driver_cannot_tell(tmp_path):
    d = diagnose(str(_env(tmp_path)), readers=[("libcuda", lambda: None)])
    assert d.exit_code == CANNOT_TELL and d.headline().startswith("no NVIDIA driver found")
    assert "GPU smoke test skipped: no driver" in d.notes


@pytest.mark.skipif(not NO_GPU, reason="this machine has an NVIDIA driver")
def test_cli_on_this_machine_says_no_driver(tmp_path):
    ui, out, err = _ui()
    code = main(["doctor", "--prefix", str(_env(tmp_path))], ui)
    text = out.export_text()
    assert code == 2, text + err.export_text()
    assert "no NVIDIA driver found" in text and "torch" in text and "12.6" in text
    ui, out, _ = _ui()
    assert main(["doctor", "--json"], ui) == 2
    doc = json.loads(out.export_text())
    assert doc["verdict"] == "cannot tell" and doc["driver"]["found"] is False


def test_torchvision_built_for_another_cuda_than_torch(tmp_path):
    root = _env(tmp_path, "12.6", "2.6.0+cu126")
    vision = root / "lib" / "python3.12" / "site-packages" / "torchvision"
    vision.mkdir()
    (vision / "version.py").write_text("__version__ = '0.21.0'\ncuda = '12.4'\n")
    d = diagnose(str(root), readers=_driver("12.6", "560.35.03"))
    assert d.exit_code == INCOMPATIBLE
    assert any(v.package == "torchvision" and "refuses to load" in v.reason for v in d.verdicts)

"""dockyard verify on real images: Jupyter really starts, a kernel really runs the checks."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui
from dockyard.errors import VerifyError
from dockyard.lock.model import dumps
from dockyard.verify import verify_image

pytestmark = pytest.mark.podman


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(console=Console(file=out, width=300), err=Console(file=err, width=300))
    code = main(argv, ui)
    return code, out.getvalue(), err.getvalue()


def _by_name(report):
    return {c.name: c for c in report.checks}


def test_base_starts_with_its_own_cmd(podman, platform_base):
    report = verify_image(podman, platform_base, kernel="python3")
    checks = _by_name(report)
    assert report.ok, report.to_dict()
    assert checks["jupyter"].status == "pass"
    assert "--LabApp.token=***" in report.command and "password" not in report.command
    assert checks["interpreter"].detail.startswith("CPython 3.13.")
    assert checks["not root"].status == "pass"
    assert "uid 1000 (onyxia)" in checks["not root"].detail
    assert checks["imports"].status == "skip"


def test_app_image_passes_every_check(podman, app_image, tmp_path):
    out_json = tmp_path / "report.json"
    code, out, err = _cli(["verify", app_image, "--json", str(out_json)])
    assert code == 0, out + err
    report = json.loads(out_json.read_text())
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == {
        "as the base": "pass", "jupyter": "pass", "kernel": "pass", "lock": "pass",
        "interpreter": "pass",
        "not root": "pass", "imports": "pass", "versions": "pass", "own environment": "pass",
    }
    assert report["kernel"] == "app"
    assert "named by the image label io.dockyard.kernel" in out
    assert "/opt/app (Jupyter runs from /opt/python)" in out
    assert "password" not in out + err


def test_failing_import_is_reported_with_its_message(podman, broken_app_image, app_helpers):
    code, out, err = _cli(["verify", broken_app_image])
    assert code == 1, out + err
    assert f"import brokenmod (brokenmod 1.0): ImportError: {app_helpers.BROKEN_MESSAGE}" in out
    assert ("import crashmod (crashmod 1.0): during this import, the interpreter was killed "
            "by SIGSEGV") in out
    assert "✗ imports" in out
    assert "✓ versions: 4 PyPI distributions compared with the lock" in out  # all were read
    assert "✓ not root" in out


def test_platform_cmd_lock_file_and_token_stay_hidden(podman, app_image, tmp_path, app_helpers):
    lock = tmp_path / "dockyard.lock"
    lock.write_text(dumps(app_helpers.make_lock(python="3.12")))
    secret = "s3cret-verify-tok"
    code, out, err = _cli([
        "verify", app_image, "--lock", str(lock),
        "--cmd", f"jupyter lab --no-browser --ip 0.0.0.0 --ServerApp.token={secret}",
    ])
    assert code == 1, out + err  # the lock says 3.12, the kernel runs 3.13
    assert "but the lock targets Python 3.12" in out
    assert "✓ imports" in out
    assert secret not in out + err
    assert "--ServerApp.token=***" in out


def test_a_token_jupyter_generated_is_read_from_its_log(podman, app_image):
    report = verify_image(podman, app_image, cmd="jupyter lab --no-browser --ip 0.0.0.0")
    assert report.ok, report.to_dict()
    assert report.kernel == "app"


def test_base_without_jupyter_gets_a_clear_message(podman, platform_base_nojupyter, tmp_path):
    code, out, err = _cli(["verify", platform_base_nojupyter, "--json", str(tmp_path / "r")])
    assert code == 1
    written = json.loads((tmp_path / "r").read_text())
    assert written["ok"] is False and "no Jupyter server answered" in written["error"]
    assert "no Jupyter server answered" in err
    assert "the image has no `jupyter` on PATH" in err
    assert "jupyter: not found" in err  # the container's own last lines


def test_unknown_kernel_lists_the_kernelspecs(podman, app_image):
    with pytest.raises(VerifyError) as info:
        verify_image(podman, app_image, kernel="nope")
    assert "the server lists: app, python3" in info.value.message


def test_the_container_is_removed_whatever_happens(podman, app_image, platform_base_nojupyter):
    import uuid

    ok_name, failed_name = (f"dockyard-verify-test-{uuid.uuid4().hex[:8]}" for _ in range(2))
    assert verify_image(podman, app_image, container_name=ok_name).ok
    with pytest.raises(VerifyError):
        verify_image(podman, platform_base_nojupyter, container_name=failed_name)
    for name in (ok_name, failed_name):
        assert not podman.cli("container", "exists", name).ok, name

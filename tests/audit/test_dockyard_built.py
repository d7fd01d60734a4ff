"""An image made by `dockyard build` (the bundled example on the platform-like base) passes
`dockyard check` against that base with no error finding."""

from __future__ import annotations

import pytest

from dockyard.audit import Policy, audit
from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]


@pytest.fixture(scope="module")
def built(example_image):
    return example_image("jupyter")  # the image the build tests make (session fixture)


def test_dockyard_built_image_has_no_error_finding(built, platform_base, podman):
    report = audit(built, base=platform_base, policy=Policy(budget=20 * 10**9), engine=podman)
    errors = [f for f in report.findings if f.severity == "error"]
    assert errors == [], "\n".join(f"{f.code}: {f.title} {f.details[:3]}" for f in errors)
    inv = report.inventory
    app = [e for e in inv.environments if not e.from_base]
    assert app and all(e.python for e in app)           # the app's environment was found
    assert any(not k.layer < inv.base_layers for k in inv.kernels)   # and its kernel
    assert inv.base_layers > 0 and inv.config.user not in ("", "0", "root")
    code, _ = run_cli("check", built, "--base", platform_base, "--budget", "20GB")
    assert code == 0


def test_an_app_env_without_a_kernel_is_found(platform_base, podman, tmp_path):
    """A venv added by hand on the platform base, never registered with the base's Jupyter."""
    import hashlib

    containerfile = f"FROM {platform_base}\nRUN python3 -m venv --without-pip /opt/app\n" \
                    "COPY app.py /opt/app/app.py\n"
    tag = "localhost/dockyard-test/nokernel:" + hashlib.sha256(
        (containerfile + podman.inspect(platform_base)["Id"]).encode()).hexdigest()[:12]
    if not podman.exists(tag):
        (tmp_path / "Containerfile").write_text(containerfile)
        (tmp_path / "app.py").write_text("print('hi')\n")
        podman.build(str(tmp_path), containerfile=str(tmp_path / "Containerfile"), tag=tag)
    report = audit(tag, base=platform_base, engine=podman)
    [missing] = [f for f in report.findings if f.code == "kernel-missing"]
    assert missing.severity == "error" and missing.paths == ("/opt/app",)
    assert not [f for f in report.findings if f.code in ("cmd-changed", "runs-as-root")]

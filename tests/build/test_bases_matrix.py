"""The bundled example on every base of the matrix (dockyard.testing.bases.MATRIX): laid
out like the Onyxia images, the Jupyter docker-stacks images (as its USER and as root with
HOME set), a Python in /usr/local with pip into the system, and a CUDA-like base.

On each: plan, build, verify with no flags, the platform's contract (CMD, ENTRYPOINT,
USER as the base's), `dockyard check` without an error, and the kernel visible to the
platform's user with an empty volume mounted over HOME (as platforms mount the user's
persistent volume). Builds are shared through the session fixture `example_image`.
"""

from __future__ import annotations

import json
import uuid

import pytest

from dockyard.testing.bases import MATRIX, platform_base
from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]
CASES = [pytest.param(c, id=c.variant) for c in MATRIX]


@pytest.mark.parametrize("case", CASES)
def test_plan_puts_the_kernel_outside_every_home(case, podman, example):
    base = platform_base(podman, variant=case.variant)
    code, out = run_cli("plan", "--base", base, "--project", str(example))
    assert code == 0, out
    assert f"in {case.kernel_dir}/minicase" in out.replace("\n", " ")
    assert "/home/" not in out.split("kernel ", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize("case", CASES)
def test_build_verify_contract_and_check(case, podman, example_image):
    from dockyard.audit import Policy, audit
    from dockyard.verify import verify_image

    tag = example_image(case.variant)
    base = platform_base(podman, variant=case.variant)
    report = verify_image(podman, tag)  # no flags: the image's own CMD, user and token
    assert report.ok, [f"{c.name}: {c.detail} {c.problems}" for c in report.checks]
    assert report.kernel == "minicase"
    image, theirs = podman.inspect(tag)["Config"], podman.inspect(base)["Config"]
    for key in ("Cmd", "Entrypoint", "User"):
        assert image.get(key) == theirs.get(key), key
    found = audit(tag, base=base, policy=Policy(budget=20 * 10**9), engine=podman)
    errors = [f"{f.code}: {f.title}" for f in found.findings if f.severity == "error"]
    assert errors == []
    codes = {f.code for f in found.findings if f.severity == "warning"}
    assert "world-writable" not in codes  # uv's .lock (mode 666) never reaches the image
    assert not any(p.endswith("/CACHEDIR.TAG") for p in found.inventory.files)


@pytest.mark.parametrize("case", CASES)
def test_kernel_visible_to_the_platform_user_over_a_home_volume(case, podman, example_image):
    from dockyard.verify.run import make_home_volume

    tag = example_image(case.variant)
    name = f"dockyard-test-home-{uuid.uuid4().hex[:8]}"
    env = dict(e.split("=", 1) for e in podman.inspect(tag)["Config"].get("Env") or ())
    volume, mount = make_home_volume(podman, tag, name, env, case.user)
    try:
        done = podman.run(tag, ["jupyter", "kernelspec", "list", "--json"],
                          options=["--user", case.user, "-v", mount])
        assert done.ok, done.stderr
        specs = json.loads(done.stdout)["kernelspecs"]
        assert specs["minicase"]["resource_dir"] == f"{case.kernel_dir}/minicase"
        home = podman.run(tag, ["sh", "-c", f"ls -A {case.home}"],
                          options=["--user", case.user, "-v", mount])
        assert home.stdout.split() in ([], ["work"])  # nothing of the build under the home
    finally:
        podman.cli("volume", "rm", "-f", volume)


def test_root_base_runs_as_the_platform_user_with_its_home_mounted(podman, example_image):
    """USER root, HOME=/home/jovyan: the platform runs it as 1000:100 over an empty home;
    Jupyter starts (no root-owned ~/.local under it) and the app kernel is there."""
    from dockyard.verify import verify_image

    tag = example_image("stacks-root")
    report = verify_image(podman, tag, user="1000:100", home_volume=True)
    assert report.ok, [f"{c.name}: {c.detail} {c.problems}" for c in report.checks]
    checks = {c.name: c for c in report.checks}
    assert "as 1000:100" in checks["jupyter"].detail and "volume over" in checks["jupyter"].detail
    assert "uid 1000 (jovyan)" in checks["not root"].detail


def test_base_python_of_the_very_version_is_reused(podman, example_image):
    """The usrlocal base's CPython 3.12.1 is the example's conda python: no second one."""
    tag = example_image("usrlocal")
    out = example_image.outputs["usrlocal"]
    assert "a venv of the base's, in place of conda's python" in out.replace("\n", " ")
    done = podman.run(tag, ["sh", "-c", "cat /opt/dockyard/env/pyvenv.cfg; "
                            "ls /opt/dockyard/env/conda-meta; "
                            "readlink -f /opt/dockyard/env/bin/python"])
    assert done.ok, done.stderr
    assert "home = /usr/local/bin" in done.stdout
    assert "python-3.12.1" not in done.stdout and "libtinygeo" in done.stdout
    assert done.stdout.split()[-1] == "/usr/local/bin/python3.12"

"""End to end on the bundled example: lock, build, verify, and the platform's contract.

Real everything: the example's local conda channel, uv against PyPI, Podman, a
Jupyter kernel over REST (dockyard.verify), a registry on loopback. The example
lives in one fixed place (dockyard.testing.example.default_dest) so Podman's
layer cache makes later runs fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from dockyard.lock.model import loads
from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]
TAG = "localhost/dockyard-test/minicase:e2e"


@pytest.fixture(scope="module")
def built(example_image):
    tag = example_image("jupyter")  # shared with the base matrix and the audit tests
    assert "second interpreter from conda" in example_image.outputs["jupyter"]
    return tag


def layers(podman, ref):
    return podman.inspect(ref)["RootFS"]["Layers"]


def test_lock_has_conda_pypi_and_git(example):
    lock = loads((example / "dockyard.lock").read_text())
    owners = {p.name: p.owner for p in lock.packages}
    assert owners["python"] == owners["tinygeo"] == owners["libtinygeo"] == "conda"
    assert owners["numpy"] == owners["xarray"] == owners["ipykernel"] == "pypi"
    assert lock.get("xrpatch").commit and lock.get("numpy").version.startswith("1.")
    assert "poetry" not in owners  # an environment tool, not a runtime dependency


def test_verify_passes(built, podman):
    from dockyard.verify import verify_image

    report = verify_image(podman, built, timeout=120)
    assert report.kernel == "minicase"
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.failed]


def test_platform_contract(built, podman, platform_base, example):
    image, base = podman.inspect(built)["Config"], podman.inspect(platform_base)["Config"]
    assert image.get("Cmd") == base.get("Cmd") and image.get("Entrypoint") == base.get("Entrypoint")
    assert image.get("User") == base.get("User") == "1000"
    assert image["Labels"]["io.dockyard.kernel"] == "minicase"
    done = podman.run(built, ["sh", "-c", "id -u; id -g; cat /opt/dockyard/dockyard.lock | "
                              "sha256sum; stat -c %u:%g /opt/dockyard/env/bin/python3.12"])
    uid, gid, lock_sum, owner = done.stdout.split("\n")[:4]
    assert (uid, gid, owner) == ("1000", "100", "1000:100")  # non-root, owns its env
    local = subprocess.run(["sha256sum"], input=(example / "dockyard.lock").read_bytes(),
                           capture_output=True).stdout.decode()
    assert lock_sum.split()[0] == local.split()[0]


# Runs code in a kernel started the way the base's Jupyter starts it (its kernel.json,
# argv and env), with the base's own jupyter_client.
IN_KERNEL = """
import sys
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=60)
try:
    reply = kc.execute_interactive(sys.argv[2], timeout=60)
    sys.exit(0 if reply["content"]["status"] == "ok" else 1)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def test_second_interpreter_and_native_library_in_the_kernel(built, podman):
    code = ("import sys, tinygeo, minicase; print(sys.version_info[:2], tinygeo.DATA, "
            "tinygeo.library_version(), float(minicase.distances()[0, 0]))")
    done = podman.run(built, ["python3", "-c", IN_KERNEL, "minicase", code])
    assert done.ok, done.stdout + done.stderr
    assert "(3, 12) /opt/dockyard/env/share/tinygeo 1.0.0 " in done.stdout
    base_py = podman.run(built, ["python3", "-c", "import sys; print(sys.version_info[:2])"])
    assert base_py.stdout.strip() == "(3, 13)"  # the base's Jupyter Python is untouched


def test_conda_activation_reaches_the_kernel_spec(built, podman):
    spec = json.loads(podman.run(built, [
        "cat", "/opt/python/share/jupyter/kernels/minicase/kernel.json"]).stdout)
    assert spec["env"]["TINYGEO_DATA"] == "/opt/dockyard/env/share/tinygeo"
    assert spec["env"]["CONDA_PREFIX"] == "/opt/dockyard/env"
    assert spec["argv"][:3] == ["/opt/dockyard/env/bin/python", "-m", "ipykernel_launcher"]
    # Without the activation, the binding refuses to import (as esmpy without ESMFMKFILE).
    bare = podman.run(built, ["/opt/dockyard/env/bin/python", "-c", "import tinygeo"])
    assert not bare.ok and "TINYGEO_DATA is not set" in bare.stderr


def test_no_build_leftovers_or_secrets(built, podman, platform_base):
    done = podman.run(built, ["sh", "-c", "ls /opt/dockyard; command -v uv gcc cc || true; "
                              "ls -a /root/.cache 2>/dev/null; ls /run/secrets 2>/dev/null; "
                              "du -sm /opt/dockyard/env"])
    assert done.ok, done.stderr
    assert done.stdout.split()[:4] == ["app", "dockyard.lock", "env", "env.digest"]
    assert "uv" not in done.stdout.split("\n")[3:] and "gcc" not in done.stdout
    history = podman.cli("history", "--no-trunc", built).stdout
    assert "BEGIN CERTIFICATE" not in history
    ca = os.environ.get("SSL_CERT_FILE")
    if ca:  # the CA bundle given as a secret reached none of the files dockyard added
        certs = open(ca).read().split("-----BEGIN CERTIFICATE-----")[1:]
        probes = [c.split()[0] for c in (certs[0], certs[len(certs) // 2], certs[-1])]
        pattern = "\\|".join(probes)
        found = podman.run(built, ["sh", "-c", f"grep -rl '{pattern}' /opt/dockyard "
                                   "/opt/python/share/jupyter/kernels/minicase || true"])
        assert found.stdout.strip() == ""


def test_code_only_change_reuses_the_environment_layer(built, podman, example, platform_base,
                                                       tmp_path):
    project = tmp_path / "minicase"
    shutil.copytree(example, project)
    init = project / "minicase" / "__init__.py"
    init.write_text(init.read_text().replace('MESSAGE = "minicase v1"',
                                             'MESSAGE = "minicase v2"'))
    tag = TAG + "-code"
    code, out = run_cli("build", "--base", platform_base, "--project", str(project), "-t", tag)
    assert code == 0, out
    cached, total = map(int, re.search(r"(\d+) of (\d+) steps from the layer cache",
                                       out.replace("\n", " ")).groups())
    assert cached >= total - 5  # project COPY + wheel build; app COPY, LABEL, USER
    before, after = layers(podman, built), layers(podman, tag)
    assert len(before) == len(after)
    assert before[:-1] == after[:-1]  # base, environment, kernel spec, lock: all reused
    assert before[-1] != after[-1]  # only the project's own layer changed
    done = podman.run(tag, ["python3", "-c", IN_KERNEL, "minicase",
                            "import minicase; print(minicase.MESSAGE)"])
    assert "minicase v2" in done.stdout, done.stdout + done.stderr
    podman.cli("rmi", tag)


def test_after_a_no_cache_build_a_code_change_still_reuses_the_environment(
        built, podman, example, platform_base, tmp_path):
    """The founding case's bench: a cold `--no-cache` build, then a one-line change, took
    161 s: buildah reuses the first cached image whose history matches, and the final
    stage's bare `USER root` first step matched another build's image on the same base,
    whose chain has no layer for this environment: the 6.5 GB copy ran again. Each stage
    now opens with a step of its own project and lock (tests/render)."""
    project = tmp_path / "minicase"
    shutil.copytree(example, project)
    tag = TAG + "-nocache"
    other = TAG + "-other"  # another image on the same base whose first step is USER root
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Containerfile").write_text(
        f"FROM {platform_base}\nUSER root\nRUN echo other > /other\n")
    podman.build(str(tmp_path / "other"), containerfile=str(tmp_path / "other" / "Containerfile"),
                 tag=other)
    code, out = run_cli("build", "--base", platform_base, "--project", str(project), "-t", tag,
                        "--no-cache")
    assert code == 0, out
    init = project / "minicase" / "__init__.py"
    init.write_text(init.read_text() + "\nCHANGED = True\n")
    code, out = run_cli("build", "--base", platform_base, "--project", str(project), "-t", tag)
    assert code == 0, out
    cached, total = map(int, re.search(r"(\d+) of (\d+) steps from the layer cache",
                                       out.replace("\n", " ")).groups())
    assert cached == total - 3, out  # the app's COPY, LABEL, USER
    podman.cli("rmi", tag)
    podman.cli("rmi", other)


def test_containerfile_only_is_a_self_contained_context(built, example, platform_base,
                                                        podman, tmp_path):
    out = tmp_path / "new" / "ctx"  # made with its parents (the app was staged beside it)
    code, text = run_cli("build", "--base", platform_base, "--project", str(example),
                         "--containerfile-only", str(out))
    assert code == 0, text
    for rel in ("Containerfile", ".dockerignore", "dockyard.lock", "kernel/kernel.json",
                "kernel/finish.py", "tools/uv", "conda-env/bin/python3.12",
                "requirements/wheels.txt", "sources/xrpatch/pyproject.toml",
                "app/minicase/__init__.py", "build-requirements/sources.txt"):
        assert (out / rel).exists(), rel
    assert not (out / "project").exists()  # the project's wheel was built on the host
    assert not (out / "conda-env" / "CACHEDIR.TAG").exists()
    lock = loads((example / "dockyard.lock").read_text())
    numpy = next(p for p in lock.packages if p.name == "numpy")
    [fetched] = [f for f in os.listdir(out / "wheels") if f.startswith("numpy-")]
    assert fetched.endswith(".whl") and fetched in {a.filename for a in numpy.artifacts}
    assert "flit-core==" in (out / "build-requirements/sources.txt").read_text()
    # A plain engine build of that folder, as a CI would run it (no channel, no git host).
    secrets = {"ca": os.environ["SSL_CERT_FILE"]} if os.environ.get("SSL_CERT_FILE") else {}
    image = podman.build(str(out), containerfile=str(out / "Containerfile"),
                         tag=TAG + "-ctx", secrets=secrets)
    # Same context, same layers as `dockyard build` gives now: compared at one state of the
    # layer cache, since an earlier --no-cache build of the same environment (test above)
    # left a second, equal-content environment layer either build may take.
    code, text = run_cli("build", "--base", platform_base, "--project", str(example),
                         "-t", TAG + "-again")
    assert code == 0, text
    assert layers(podman, image) == layers(podman, TAG + "-again")
    podman.cli("rmi", TAG + "-ctx", TAG + "-again")


def test_push_to_a_loopback_registry(built, example, platform_base):
    from dockyard.testing.registry import local_registry

    with local_registry() as registry:
        dest = f"{registry.host}/minicase:1"
        code, out = run_cli("build", "--base", platform_base, "--project", str(example),
                            "-t", TAG, "--push", dest)
        assert code == 0, out
        seen = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{dest}"],
                              capture_output=True, text=True)
        assert seen.returncode == 0, seen.stderr
        assert '"io.dockyard.kernel": "minicase"' in seen.stdout


def test_unknown_engine_lists_the_available_ones(example, platform_base):
    code, out = run_cli("build", "--base", platform_base, "--project", str(example),
                        "-t", TAG, "--engine", "nerdctl")
    assert code == 2 and "unknown engine 'nerdctl'" in out and "podman" in out


def test_missing_and_stale_lock(example, platform_base, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(example, project)
    (project / "dockyard.lock").unlink()
    code, out = run_cli("plan", "--base", platform_base, "--project", str(project))
    assert code == 2 and "no dockyard.lock" in out and "dockyard lock" in out
    shutil.copy(example / "dockyard.lock", project)
    env = project / "environment.yml"
    env.write_text(env.read_text() + "  - libtinygeo\n")
    code, out = run_cli("build", "--base", platform_base, "--project", str(project), "-t", TAG)
    assert code == 2 and "stale" in out and "run `dockyard lock`" in out


def test_plan_refuses_a_base_without_jupyter(example, platform_base_nojupyter):
    code, out = run_cli("plan", "--base", platform_base_nojupyter, "--project", str(example))
    assert code == 2 and "has no Jupyter" in out and "JupyterLab" in out


def test_plan_prints_the_layout(example, platform_base):
    code, out = run_cli("plan", "--base", platform_base, "--project", str(example),
                        "--containerfile")
    assert code == 0, out
    assert "Python 3.12.1, second interpreter from conda" in out
    assert "3.13.5" in out and "1000:100 (onyxia:users)" in out
    assert "cp -a /mnt/dockyard-env/. /opt/dockyard/env/" in out
    assert "chown -R 1000:100 /opt/dockyard/env" in out
    assert "cost: a second interpreter: conda's python 3.12.1 adds 61 MB" in out


def test_usage_errors_say_what_to_do(example):
    code, out = run_cli("plan", "--project", str(example))
    assert code == 2 and "no base image given" in out and "--base" in out
    code, out = run_cli("build", "--base", "x", "--project", str(example))
    assert code == 2 and "no image name" in out and "-t TAG" in out
    code, out = run_cli("build", "--base", "x", "--project", str(example), "-t", "y",
                        "--secret", "id=ca")
    assert code == 2 and "expected id=ID,src=PATH" in out

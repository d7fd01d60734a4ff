"""Shared fixtures: a real Podman and real Debian base images, built once per machine."""

from __future__ import annotations

import os
import shutil

import pytest

from dockyard.engines import CliEngine, get_engine


def _podman_ready() -> str | None:
    if not shutil.which("podman"):
        return "podman is not installed (scripts/setup installs it)"
    if not os.environ.get("CONTAINERS_CONF"):
        return "CONTAINERS_CONF is not set (run tests through scripts/test)"
    return None


@pytest.fixture(scope="session")
def podman() -> CliEngine:
    why = _podman_ready()
    if why:
        pytest.fail(why)
    return get_engine("podman")


@pytest.fixture(scope="session")
def debian_trixie(podman: CliEngine) -> str:
    """A minbase Debian trixie image (Python 3.13 is in its archive)."""
    from dockyard.testing.rootfs import debian_image

    return debian_image(podman, "trixie")


@pytest.fixture(scope="session")
def debian_bookworm(podman: CliEngine) -> str:
    from dockyard.testing.rootfs import debian_image

    return debian_image(podman, "bookworm")


@pytest.fixture(scope="session")
def platform_base(podman: CliEngine) -> str:
    """A platform-like base: trixie's Python 3.13 venv at /opt/python with JupyterLab,
    ENV USERNAME/GROUPNAME/WORKSPACE_DIR, USER 1000, the founding case's CMD."""
    from dockyard.testing.bases import platform_base as build

    return build(podman, variant="jupyter")


@pytest.fixture(scope="session")
def platform_base_nojupyter(podman: CliEngine) -> str:
    """The same base without Jupyter (its CMD cannot start)."""
    from dockyard.testing.bases import platform_base as build

    return build(podman, variant="nojupyter")


@pytest.fixture(scope="session")
def platform_base_cuda(podman: CliEngine) -> str:
    """The jupyter base plus a CUDA 12.6-like layout (ENV, stub libcudart.so.12)."""
    from dockyard.testing.bases import platform_base as build

    return build(podman, variant="cuda")


@pytest.fixture(scope="session")
def example():
    """The bundled example, made and locked once for the session (its git URL mapped)."""
    from dockyard.testing.example import locked_example

    with locked_example() as project:
        yield project


@pytest.fixture(scope="session")
def example_image(podman, example):
    """`example_image(variant)`: the example built by `dockyard build` on that base of the
    matrix (dockyard.testing.bases), once per session and variant; its tag."""
    from dockyard.testing.bases import platform_base
    from dockyard.testing.cli import run_cli

    built: dict[str, str] = {}

    def build(variant: str = "jupyter") -> str:
        if variant not in built:
            tag = f"localhost/dockyard-test/minicase:{variant}"
            base = platform_base(podman, variant=variant)
            code, out = run_cli("build", "--base", base, "--project", str(example), "-t", tag)
            assert code == 0, out
            built[variant] = tag
            build.outputs[variant] = out
        return built[variant]

    build.outputs = {}
    return build


# -- the bundled example's pack and SSH test hosts: shared by tests/pack and tests/deploy,
#    made once per session (a pack is a few minutes of CPU on a loaded machine) -------------

@pytest.fixture(scope="session")
def example_project(tmp_path_factory):
    """A locked copy of the bundled example. Shared: copy it before editing it."""
    from dockyard.testing.packs import locked_example

    return locked_example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="session")
def example_pack(example_project, tmp_path_factory):
    """`dockyard pack -o minicase-env.sh` of it (gzip level 1: tests unpack it, nobody
    downloads it)."""
    from dockyard.testing.cli import run_cli

    out = tmp_path_factory.mktemp("pack") / "minicase-env.sh"
    code, said = run_cli("pack", "--project", str(example_project), "-o", str(out),
                         "--compression-level", "1")
    assert code == 0, said
    assert "minicase-env.sh" in said and "relocated" in said, said
    return out


@pytest.fixture(scope="session")
def ssh_test_hosts(podman, tmp_path_factory):
    """host1 and host2: Debian's openssh-server in containers (dockyard.testing.sshd).
    Each test deploys under its own prefix and puts back what it breaks."""
    from dockyard.testing.sshd import ssh_hosts

    with ssh_hosts(podman, ["host1", "host2"], tmp_path_factory.mktemp("ssh")) as hosts:
        yield hosts

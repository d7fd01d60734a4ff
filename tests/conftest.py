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

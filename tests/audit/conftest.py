"""Session fixtures for `dockyard check`: the naive image (built once per machine) and its audit."""

from __future__ import annotations

import pytest

from dockyard.audit import Policy, audit

from .images import naive_image


@pytest.fixture(scope="session")
def naive(podman, debian_trixie) -> tuple[str, dict]:
    return naive_image(podman, debian_trixie)


@pytest.fixture(scope="session")
def naive_report(podman, naive, debian_trixie):
    tag, _ = naive
    return audit(tag, base=debian_trixie, policy=Policy(cuda="12.6"), engine=podman)


def finding_keys(report) -> list[tuple]:
    """What must be equal whatever the image source."""
    return [(f.code, f.severity, f.title, f.size, f.paths, f.details) for f in report.findings]

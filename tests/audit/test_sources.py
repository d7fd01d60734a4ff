"""Every image source gives the same findings as Podman storage."""

from __future__ import annotations

import shutil

import pytest

from dockyard.audit import Policy, audit
from dockyard.testing.registry import local_registry

from .conftest import finding_keys

pytestmark = pytest.mark.podman


@pytest.fixture(scope="module")
def policy():
    return Policy(cuda="12.6")


def check(ref, debian_trixie, policy, **kw):
    return audit(ref, base=debian_trixie, policy=policy, **kw)


def test_oci_and_docker_archives(podman, naive, naive_report, debian_trixie, policy, tmp_path):
    tag, _ = naive
    for fmt in ("oci-archive", "docker-archive"):
        path = tmp_path / f"{fmt}.tar"
        podman.check("save", "--format", fmt, "--uncompressed", "-o", str(path), tag)
        report = check(f"{fmt}:{path}", debian_trixie, policy, engine=podman)
        assert finding_keys(report) == finding_keys(naive_report), fmt
        assert report.inventory.ref == f"{fmt}:{path}"
        path.unlink()


def test_oci_layout_directory_zstd(podman, naive, naive_report, debian_trixie, policy, tmp_path):
    tag, _ = naive
    podman.check("push", "-q", "--compression-format", "zstd", tag, f"oci:{tmp_path}/layout:naive")
    report = check(f"oci:{tmp_path}/layout:naive", debian_trixie, policy, engine=podman)
    shutil.rmtree(tmp_path / "layout")   # pytest keeps recent tmp dirs: don't leave 140 MB
    assert finding_keys(report) == finding_keys(naive_report)


def test_registry_on_loopback_gzip(podman, naive, naive_report, debian_trixie, policy):
    tag, _ = naive
    with local_registry() as reg:
        podman.check("push", "-q", "--tls-verify=false", tag, reg.ref("naive:1"))
        podman.check("push", "-q", "--tls-verify=false", debian_trixie, reg.ref("debian:trixie"))
        report = audit(reg.ref("naive:1"), base=reg.ref("debian:trixie"), policy=policy,
                       tls_verify=False)
    assert finding_keys(report) == finding_keys(naive_report)
    assert [x.digest for x in report.inventory.layers] == \
        [x.digest for x in naive_report.inventory.layers]

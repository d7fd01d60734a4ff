"""probe_base on real images: the platform-like bases and a Debian without Python."""

import pytest

from dockyard.errors import PlanError
from dockyard.probe import probe_base
from dockyard.testing.bases import platform_base

pytestmark = pytest.mark.podman


def test_probe_platform_bases(podman):
    jup = probe_base(podman, platform_base(podman, variant="jupyter"))
    assert jup.jupyter is not None and jup.jupyter_python.minor == "3.13"
    assert (jup.user.uid, jup.user.owner_gid, jup.user.username) == (1000, 100, "onyxia")
    assert list(jup.cmd) == podman.inspect(jup.ref)["Config"]["Cmd"]
    cuda = probe_base(podman, platform_base(podman, variant="cuda"))
    assert cuda.cuda.version.startswith("12.6") and cuda.cuda.cudart
    nojup = probe_base(podman, platform_base(podman, variant="nojupyter"))
    assert nojup.jupyter is None and nojup.pythons


def test_probe_debian_without_python(podman, debian_trixie):
    f = probe_base(podman, debian_trixie)
    assert f.pythons == () and f.jupyter is None and f.user.is_root
    assert f.glibc and f.os_id == "debian"


def test_probe_missing_image(podman):
    with pytest.raises(PlanError, match="not available to podman and could not be pulled"):
        probe_base(podman, "localhost/dockyard-test/no-such-image:1")
